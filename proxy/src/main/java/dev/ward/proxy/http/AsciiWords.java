package dev.ward.proxy.http;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Header bytes eight at a time: the checks a header value's bytes go through, on a word of them
 * at once (exact as to whether a word holds such a byte, not which). Most of a value is visible
 * characters; a word that is not all such goes to the byte-at-a-time rule of the caller.
 */
final class AsciiWords {

    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final long ONES = 0x0101010101010101L;
    private static final long HIGHS = 0x8080808080808080L;

    private AsciiWords() {}

    /** The eight bytes of {@code b} from {@code at}, the first in the lowest bits. */
    static long word(byte[] b, int at) {
        return (long) LONGS.get(b, at);
    }

    /** Whether all eight bytes of {@code x} are visible ASCII (0x21-0x7E): none under 0x21, none over 0x7E. */
    static boolean visible(long x) {
        return (((x - 0x21 * ONES) & ~x | (x + ONES | x)) & HIGHS) == 0;
    }

    /** Whether a byte of {@code x} is under 0x20 (a control, HTAB among them) or a DEL. */
    static boolean controlOrDel(long x) {
        long y = x ^ (0x7F * ONES); // a DEL is 0 here
        return (((x - 0x20 * ONES) & ~x | (y - ONES) & ~y) & HIGHS) != 0;
    }
}
