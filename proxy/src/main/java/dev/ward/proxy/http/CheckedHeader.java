package dev.ward.proxy.http;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;

/**
 * A header, name and value, checked once when it was made and kept as the bytes an HTTP encoder
 * copies in one piece: for a header Ward sets on many requests, such as the caller's identity
 * that an inbound sidecar adds to every request of a connection. {@link #set} puts it on a message
 * without the header map checking it again; the only way to get one is {@link #of}, which checks.
 */
public final class CheckedHeader {

    private final AsciiString name;
    private final AsciiString value;

    private CheckedHeader(AsciiString name, AsciiString value) {
        this.name = name;
        this.value = value;
    }

    /**
     * {@code name: value}, checked as Ward's header map checks every header it is given (a name
     * of token characters; a value without CR, LF, NUL or other controls), and the value also
     * for characters outside Latin-1, which its bytes could not hold.
     *
     * @throws IllegalArgumentException naming what is wrong and where, if it is not valid
     */
    public static CheckedHeader of(AsciiString name, CharSequence value) {
        CompactHttpHeaders.validateName(name, false);
        String bad = CompactHttpHeaders.invalidValue(value);
        if (bad != null) {
            throw new IllegalArgumentException(bad);
        }
        for (int i = 0; i < value.length(); i++) {
            if (value.charAt(i) > 0xff) {
                throw new IllegalArgumentException("a header value contains the non-Latin-1 character 0x"
                        + Integer.toHexString(value.charAt(i)) + " at index " + i);
            }
        }
        return new CheckedHeader(name, value instanceof AsciiString a ? a : new AsciiString(value));
    }

    /**
     * Sets this header on {@code headers}, replacing any value of its name they had: Ward's own
     * map takes it unchecked, any other map as it takes any header.
     */
    public void set(HttpHeaders headers) {
        if (headers instanceof CompactHttpHeaders compact) {
            compact.replaceValidated(name, value);
        } else {
            headers.set(name, value);
        }
    }

    @Override
    public String toString() {
        return name + ": " + value;
    }
}
