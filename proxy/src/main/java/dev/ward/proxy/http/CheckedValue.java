package dev.ward.proxy.http;

import io.netty.handler.codec.http.HttpHeaderValidationUtil;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;

/**
 * A header value checked once, when it was made, and kept as the bytes an HTTP encoder copies in
 * one piece: for a value Ward sets on many requests, such as the caller's identity that an inbound
 * sidecar adds to every request of a connection. {@link #set} puts it on a message without the
 * header map checking it again; the only way to get one is {@link #of}, which checks.
 */
public final class CheckedValue {

    private final AsciiString bytes;

    private CheckedValue(AsciiString bytes) {
        this.bytes = bytes;
    }

    /**
     * {@code value} as a header value, checked as every header map checks one (no CR, LF, NUL or
     * other control, no character outside Latin-1).
     *
     * @throws IllegalArgumentException naming the character and where it is, if it is not valid
     */
    public static CheckedValue of(CharSequence value) {
        int bad = HttpHeaderValidationUtil.validateValidHeaderValue(value);
        if (bad != -1) {
            throw new IllegalArgumentException("a header value contains prohibited character 0x"
                    + Integer.toHexString(value.charAt(bad)) + " at index " + bad);
        }
        for (int i = 0; i < value.length(); i++) {
            if (value.charAt(i) > 0xff) {
                throw new IllegalArgumentException("a header value contains the non-Latin-1 character 0x"
                        + Integer.toHexString(value.charAt(i)) + " at index " + i);
            }
        }
        return new CheckedValue(value instanceof AsciiString a ? a : new AsciiString(value));
    }

    /** The value, as the bytes it was checked as. */
    public AsciiString ascii() {
        return bytes;
    }

    /**
     * Sets {@code name} to this value on {@code headers}, replacing any value it had: Ward's own
     * map takes it unchecked, any other map as it takes any value.
     */
    public void set(HttpHeaders headers, AsciiString name) {
        if (headers instanceof CompactHttpHeaders compact) {
            compact.setChecked(name, bytes);
        } else {
            headers.set(name, bytes);
        }
    }

    @Override
    public String toString() {
        return bytes.toString();
    }
}
