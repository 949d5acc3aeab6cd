package dev.ward.telemetry.tracing;

import io.opentelemetry.context.propagation.TextMapSetter;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The W3C {@code traceparent} header, read and written on longs: for the requests that the sampler
 * drops, which need their trace context carried on but never a span object (see
 * {@link HeadSampler}). It reads a header exactly as the SDK's {@code W3CTraceContextPropagator}
 * does (a test holds the two to the same answers), and writes the header the SDK would inject
 * for an unsampled span.
 */
public final class TraceParent {

    public static final String HEADER = "traceparent";
    /** {@link #flags}: the header is missing or not a valid {@code traceparent}. */
    public static final int INVALID = -1;
    /** The sampled bit of the trace flags. */
    public static final int SAMPLED = 0x01;
    /** The "trace id is random" bit (Trace Context level 2), which the SDK sets on the ids it makes and keeps from a parent. */
    public static final int RANDOM = 0x02;

    private static final int LENGTH = 55;
    private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.ISO_8859_1);
    /** A character's value as a lower-case hex digit, or -1 (upper case is not valid in {@code traceparent}). */
    private static final byte[] DIGIT = new byte[128];

    static {
        Arrays.fill(DIGIT, (byte) -1);
        for (int i = 0; i < 16; i++) {
            DIGIT[HEX[i]] = (byte) i;
        }
    }

    private TraceParent() {
    }

    /**
     * A carrier's setter that can also take a header value as its Latin-1 bytes, which it may keep
     * (they are never written to again): how an unsampled request's {@code traceparent} is written
     * without a {@code String}. The bytes are {@link #formatBytes}'s, a valid header value (hex
     * digits and dashes), which the carrier need not check.
     */
    public interface BytesSetter<C> extends TextMapSetter<C> {
        void setLatin1(C carrier, String key, byte[] value);
    }

    /**
     * The trace flags (0-255) of a valid {@code traceparent}, or {@link #INVALID}. Valid: a
     * version other than {@code ff} (exactly 55 characters for {@code 00}, a {@code -} after them
     * for a later version that is longer), lower-case hex ids that are not all zero, and flags.
     * One pass over the header: it is read on every request a sidecar receives with tracing on.
     */
    public static int flags(CharSequence h) {
        if (h == null || h.length() < LENGTH || h.charAt(2) != '-' || h.charAt(35) != '-' || h.charAt(52) != '-') {
            return INVALID;
        }
        int invalid = 0; // the OR of every digit's value: negative once one is not a hex digit
        int trace = 0;
        for (int i = 3; i < 35; i++) {
            int d = digit(h.charAt(i));
            invalid |= d;
            trace |= d;
        }
        int span = 0;
        for (int i = 36; i < 52; i++) {
            int d = digit(h.charAt(i));
            invalid |= d;
            span |= d;
        }
        int v0 = digit(h.charAt(0));
        int v1 = digit(h.charAt(1));
        int f0 = digit(h.charAt(53));
        int f1 = digit(h.charAt(54));
        if ((invalid | v0 | v1 | f0 | f1) < 0 || trace == 0 || span == 0) {
            return INVALID;
        }
        int version = v0 << 4 | v1;
        if (version == 0xff || h.length() > LENGTH && (version == 0 || h.charAt(LENGTH) != '-')) {
            return INVALID;
        }
        return f0 << 4 | f1;
    }

    /** The high 64 bits of a valid header's trace id. */
    public static long traceHi(CharSequence h) {
        return parseLong(h, 3);
    }

    /** The low 64 bits of a valid header's trace id (the part the trace-id ratio sampler reads). */
    public static long traceLo(CharSequence h) {
        return parseLong(h, 19);
    }

    /** A valid header's span id: the caller's span, this hop's parent. */
    /**
     * Whether a caller's unsampled {@code traceparent} ({@code flags}: {@link #flags} of it, not
     * {@link #INVALID}) can go on to the next hop as it came: version 00, exactly its 55
     * characters, no flag but the random-trace-id bit. W3C Trace Context lets a participant that
     * records nothing leave the parent id as it is (it MAY replace it: section 3.5); the new value
     * would differ only in a span id that no span has, as this hop records none for the request.
     */
    public static boolean passesAsIs(CharSequence h, int flags) {
        return (flags & ~RANDOM) == 0 && h.length() == LENGTH && h.charAt(0) == '0' && h.charAt(1) == '0';
    }

    public static long parentSpanId(CharSequence h) {
        return parseLong(h, 36);
    }

    /** A random id part that is not zero (an all-zero trace or span id is invalid), as the SDK makes them. */
    public static long randomId() {
        long id;
        do {
            id = java.util.concurrent.ThreadLocalRandom.current().nextLong();
        } while (id == 0);
        return id;
    }

    /** {@code 00-<trace id>-<span id>-<flags>}. */
    public static String format(long traceHi, long traceLo, long spanId, int flags) {
        return new String(formatBytes(traceHi, traceLo, spanId, flags), StandardCharsets.ISO_8859_1);
    }

    /**
     * {@link #format} as its 55 Latin-1 bytes, for a carrier that takes them as they are (Netty's
     * {@code AsciiString} wraps them without a copy, and both HTTP encoders write such a value
     * with one bulk copy): no {@code String} per request.
     */
    public static byte[] formatBytes(long traceHi, long traceLo, long spanId, int flags) {
        byte[] c = new byte[LENGTH];
        c[0] = '0';
        c[1] = '0';
        c[2] = '-';
        put(c, 3, traceHi);
        put(c, 19, traceLo);
        c[35] = '-';
        put(c, 36, spanId);
        c[52] = '-';
        c[53] = HEX[(flags >> 4) & 0xf];
        c[54] = HEX[flags & 0xf];
        return c;
    }

    /** A trace id's 32 hex characters. */
    public static String traceId(long hi, long lo) {
        byte[] c = new byte[32];
        put(c, 0, hi);
        put(c, 16, lo);
        return new String(c, StandardCharsets.ISO_8859_1);
    }

    /** A span id's 16 hex characters. */
    public static String spanId(long id) {
        byte[] c = new byte[16];
        put(c, 0, id);
        return new String(c, StandardCharsets.ISO_8859_1);
    }

    private static void put(byte[] c, int at, long v) {
        for (int i = 15; i >= 0; i--) {
            c[at + i] = HEX[(int) (v & 0xf)];
            v >>>= 4;
        }
    }

    /** 16 hex digits, already checked by {@link #flags}. */
    private static long parseLong(CharSequence h, int from) {
        long v = 0;
        for (int i = from; i < from + 16; i++) {
            v = (v << 4) | DIGIT[h.charAt(i)];
        }
        return v;
    }

    private static int digit(char c) {
        return c < 128 ? DIGIT[c] : -1;
    }
}
