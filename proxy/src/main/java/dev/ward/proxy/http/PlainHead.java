package dev.ward.proxy.http;

import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * The shape of a response head that {@link Http1ClientCodec} reads itself, found without making
 * any object: {@code HTTP/1.1}, a status Netty has a constant for (200-599, not 204 or 304) with
 * that constant's reason phrase, header lines of a token, a colon and a value of visible ASCII,
 * spaces and tabs, each line ended by CRLF, exactly one {@code Content-Length} of plain digits and
 * no {@code Transfer-Encoding}; the whole head within {@link #MAX} bytes. That is the head almost
 * every app sends, and every such head means the same to Netty's decoder, which reads any other
 * (chunked bodies, folded or bare-LF lines, interim responses, odd status lines, bad bytes) and
 * whose errors stay its own. One per decoder, reused for each head.
 */
final class PlainHead {
    /** Heads longer than this are left to Netty's decoder. */
    static final int MAX = 1024;
    /** {@code HTTP/1.1 200 OK} and an empty line. */
    static final int SHORTEST = 19;

    private static final byte[] VERSION = {'H', 'T', 'T', 'P', '/', '1', '.', '1', ' '};
    private static final byte[] CONTENT_LENGTH = "content-length".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    private static final byte[] TRANSFER_ENCODING = "transfer-encoding".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    /** Netty's status constants by code, where its {@code valueOf} gives a constant; null elsewhere. */
    private static final HttpResponseStatus[] STATUS = new HttpResponseStatus[600];
    /** RFC 9110 5.6.2 {@code tchar}. */
    private static final boolean[] TCHAR = new boolean[256];

    static {
        for (int c = 200; c < 600; c++) {
            HttpResponseStatus s = HttpResponseStatus.valueOf(c);
            if (s == HttpResponseStatus.valueOf(c) && c != 204 && c != 304) {
                STATUS[c] = s;
            }
        }
        for (char c = '0'; c <= '9'; c++) {
            TCHAR[c] = true;
        }
        for (char c = 'a'; c <= 'z'; c++) {
            TCHAR[c] = true;
            TCHAR[c - 'a' + 'A'] = true;
        }
        for (char c : "!#$%&'*+-.^_`|~".toCharArray()) {
            TCHAR[c] = true;
        }
    }

    /** The head's length, its final empty line included. */
    int length;
    /** Where the first header line starts (the status line's end). */
    int firstHeader;
    HttpResponseStatus status;
    long contentLength;

    /** Whether {@code b[0..n)} starts with a plain head; if so, this describes it. */
    boolean scan(byte[] b, int n) {
        if (n < SHORTEST || !startsWith(b, 0, VERSION)) {
            return false;
        }
        int code = digit(b[9]) * 100 + digit(b[10]) * 10 + digit(b[11]);
        if (code < 200 || code >= 600 || b[12] != ' ' || STATUS[code] == null) {
            return false;
        }
        HttpResponseStatus s = STATUS[code];
        String reason = s.reasonPhrase();
        int p = 13;
        if (p + reason.length() + 2 > n) {
            return false;
        }
        for (int i = 0; i < reason.length(); i++) {
            if (b[p + i] != reason.charAt(i)) {
                return false;
            }
        }
        p += reason.length();
        if (b[p] != '\r' || b[p + 1] != '\n') {
            return false;
        }
        p += 2;
        int first = p;
        long length = -1;
        for (;;) {
            if (p + 1 >= n) {
                return false; // not all here (or longer than MAX)
            }
            if (b[p] == '\r') {
                if (b[p + 1] != '\n') {
                    return false;
                }
                p += 2;
                break;
            }
            int nameStart = p;
            while (p < n && TCHAR[b[p] & 0xff]) {
                p++;
            }
            if (p == nameStart || p >= n || b[p] != ':') {
                return false;
            }
            int nameLength = p - nameStart;
            p++;
            int valueStart = -1;
            int valueEnd = -1;
            for (; p < n && b[p] != '\r'; p++) {
                int c = b[p] & 0xff;
                if (c > ' ' && c < 0x7f) {
                    if (valueStart < 0) {
                        valueStart = p;
                    }
                    valueEnd = p + 1;
                } else if (c != ' ' && c != '\t') {
                    return false;
                }
            }
            if (p + 1 >= n || b[p + 1] != '\n') {
                return false;
            }
            p += 2;
            if (equalsIgnoreCase(b, nameStart, nameLength, TRANSFER_ENCODING)) {
                return false;
            }
            if (equalsIgnoreCase(b, nameStart, nameLength, CONTENT_LENGTH)) {
                if (length >= 0 || valueStart < 0) {
                    return false;
                }
                length = plainNumber(b, valueStart, valueEnd);
                if (length < 0) {
                    return false;
                }
            }
        }
        if (length < 0) {
            return false;
        }
        this.length = p;
        this.firstHeader = first;
        this.status = s;
        this.contentLength = length;
        return true;
    }

    private static int digit(byte c) {
        return c >= '0' && c <= '9' ? c - '0' : -1000;
    }

    /** Digits without a leading zero (but "0"), at most 18 of them; -1 otherwise (Netty's decoder reads those). */
    private static long plainNumber(byte[] b, int start, int end) {
        int n = end - start;
        if (n > 18 || n > 1 && b[start] == '0') {
            return -1;
        }
        long v = 0;
        for (int i = start; i < end; i++) {
            int d = b[i] - '0';
            if (d < 0 || d > 9) {
                return -1;
            }
            v = v * 10 + d;
        }
        return v;
    }

    private static boolean startsWith(byte[] b, int at, byte[] prefix) {
        for (int i = 0; i < prefix.length; i++) {
            if (b[at + i] != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    private static boolean equalsIgnoreCase(byte[] b, int start, int length, byte[] lowerCase) {
        if (length != lowerCase.length) {
            return false;
        }
        for (int i = 0; i < length; i++) {
            int c = b[start + i];
            if ((c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c) != lowerCase[i]) {
                return false;
            }
        }
        return true;
    }
}
