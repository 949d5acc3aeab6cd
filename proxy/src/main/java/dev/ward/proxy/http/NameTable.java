package dev.ward.proxy.http;

import io.netty.util.AsciiString;
import java.util.List;

/**
 * A few lower-case header names, looked up without regard to case and without allocating: an
 * open-addressed table by {@link AsciiString#hashCode}, behind a mask of the names' lengths, so
 * that most names that are not in it are turned away by their length alone. For fixed sets made
 * once (names HTTP/2 drops, names Ward knows, hop-by-hop names); it holds at most 64.
 */
final class NameTable {
    private final AsciiString[] slots = new AsciiString[128];
    private int size;
    /** Bit {@code n} set: a name of length {@code n} is in the table (lengths of 63 and up share bit 63). */
    private long lengths;

    NameTable() {
    }

    NameTable(List<AsciiString> lowerCase) {
        for (AsciiString n : lowerCase) {
            add(n);
        }
    }

    private static int lengthBit(int length) {
        return Math.min(length, 63);
    }

    /** Adds a name, which must be in lower case (the table hands out what was added); a name already in it is ignored. */
    void add(AsciiString lowerCase) {
        if (!lowerCase.toLowerCase().contentEquals(lowerCase)) {
            throw new IllegalArgumentException("header name not in lower case: " + lowerCase);
        }
        if (find(lowerCase) != null) {
            return;
        }
        if (size == slots.length / 2) {
            throw new IllegalStateException("a name table holds at most " + size + " names");
        }
        int i = AsciiString.hashCode(lowerCase) & (slots.length - 1);
        while (slots[i] != null) {
            i = (i + 1) & (slots.length - 1);
        }
        slots[i] = lowerCase;
        size++;
        lengths |= 1L << lengthBit(lowerCase.length());
    }

    /** The table's lower-case constant for {@code name} (any case), or null. */
    AsciiString find(CharSequence name) {
        if ((lengths & 1L << lengthBit(name.length())) == 0) {
            return null;
        }
        for (int i = AsciiString.hashCode(name) & (slots.length - 1); slots[i] != null; i = (i + 1) & (slots.length - 1)) {
            if (AsciiString.contentEqualsIgnoreCase(slots[i], name)) {
                return slots[i];
            }
        }
        return null;
    }

    boolean contains(CharSequence name) {
        return find(name) != null;
    }

    /** {@link #find(CharSequence)} for a name given as bytes in any case, with its {@link AsciiString#hashCode}. */
    AsciiString find(byte[] bytes, int start, int length, int hash) {
        if ((lengths & 1L << lengthBit(length)) == 0) {
            return null;
        }
        for (int i = hash & (slots.length - 1); slots[i] != null; i = (i + 1) & (slots.length - 1)) {
            if (equalsLowerCase(slots[i], bytes, start, length)) {
                return slots[i];
            }
        }
        return null;
    }

    private static boolean equalsLowerCase(AsciiString lowerCase, byte[] bytes, int start, int length) {
        if (lowerCase.length() != length) {
            return false;
        }
        for (int i = 0; i < length; i++) {
            byte b = bytes[start + i];
            if ((b >= 'A' && b <= 'Z' ? b + ('a' - 'A') : b) != lowerCase.byteAt(i)) {
                return false;
            }
        }
        return true;
    }
}
