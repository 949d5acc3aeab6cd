package dev.ward.telemetry.tracing;

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
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private TraceParent() {
    }

    /**
     * The trace flags (0-255) of a valid {@code traceparent}, or {@link #INVALID}. Valid: a
     * version other than {@code ff} (exactly 55 characters for {@code 00}, a {@code -} after them
     * for a later version that is longer), lower-case hex ids that are not all zero, and flags.
     */
    public static int flags(CharSequence h) {
        if (h == null || h.length() < LENGTH || h.charAt(2) != '-' || h.charAt(35) != '-' || h.charAt(52) != '-') {
            return INVALID;
        }
        int version = hexByte(h, 0);
        if (version < 0 || version == 0xff) {
            return INVALID;
        }
        if (h.length() > LENGTH && (version == 0 || h.charAt(LENGTH) != '-')) {
            return INVALID;
        }
        if (!hex(h, 3, 35) || !hex(h, 36, 52) || zeros(h, 3, 35) || zeros(h, 36, 52)) {
            return INVALID;
        }
        return hexByte(h, 53);
    }

    /** The high 64 bits of a valid header's trace id. */
    public static long traceHi(CharSequence h) {
        return parseLong(h, 3);
    }

    /** The low 64 bits of a valid header's trace id (the part the trace-id ratio sampler reads). */
    public static long traceLo(CharSequence h) {
        return parseLong(h, 19);
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
        char[] c = new char[LENGTH];
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
        return new String(c);
    }

    /** A trace id's 32 hex characters. */
    public static String traceId(long hi, long lo) {
        char[] c = new char[32];
        put(c, 0, hi);
        put(c, 16, lo);
        return new String(c);
    }

    /** A span id's 16 hex characters. */
    public static String spanId(long id) {
        char[] c = new char[16];
        put(c, 0, id);
        return new String(c);
    }

    private static void put(char[] c, int at, long v) {
        for (int i = 15; i >= 0; i--) {
            c[at + i] = HEX[(int) (v & 0xf)];
            v >>>= 4;
        }
    }

    private static long parseLong(CharSequence h, int from) {
        long v = 0;
        for (int i = from; i < from + 16; i++) {
            v = (v << 4) | digit(h.charAt(i));
        }
        return v;
    }

    private static int hexByte(CharSequence h, int at) {
        int hi = digit(h.charAt(at));
        int lo = digit(h.charAt(at + 1));
        return hi < 0 || lo < 0 ? -1 : hi << 4 | lo;
    }

    private static boolean hex(CharSequence h, int from, int to) {
        for (int i = from; i < to; i++) {
            if (digit(h.charAt(i)) < 0) {
                return false;
            }
        }
        return true;
    }

    private static boolean zeros(CharSequence h, int from, int to) {
        for (int i = from; i < to; i++) {
            if (h.charAt(i) != '0') {
                return false;
            }
        }
        return true;
    }

    /** A lower-case hex digit's value, or -1 (upper case is not valid in {@code traceparent}). */
    private static int digit(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        return -1;
    }
}
