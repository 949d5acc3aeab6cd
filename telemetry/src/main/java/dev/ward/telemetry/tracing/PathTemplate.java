package dev.ward.telemetry.tracing;

/**
 * A low-cardinality template of a request path for span names: segments that look like
 * identifiers (all digits, a UUID, a long hex string, or a long token mixing letters and digits)
 * become {@code {id}}, and paths deeper than {@value #MAX_SEGMENTS} segments end in
 * {@code /...}. {@code /orders/42/items/9f1c3e0a-...} becomes {@code /orders/{id}/items/{id}}.
 * Span names must not carry one value per request; the path itself is in {@code url.path}.
 */
public final class PathTemplate {

    static final int MAX_SEGMENTS = 8;

    private PathTemplate() {
    }

    public static String of(String path) {
        if (path == null || path.isEmpty() || path.charAt(0) != '/') {
            return "/";
        }
        int q = path.indexOf('?');
        if (q >= 0) {
            path = path.substring(0, q);
        }
        StringBuilder sb = null;
        int segments = 0;
        int start = 1;
        int n = path.length();
        while (start <= n) {
            int end = path.indexOf('/', start);
            if (end < 0) {
                end = n;
            }
            segments++;
            boolean id = isIdentifier(path, start, end);
            if (segments > MAX_SEGMENTS || id) {
                if (sb == null) {
                    sb = new StringBuilder(n).append(path, 0, start);
                }
                if (segments > MAX_SEGMENTS) {
                    sb.append("...");
                    return sb.toString();
                }
                sb.append("{id}");
            } else if (sb != null) {
                sb.append(path, start, end);
            }
            if (end < n && sb != null) {
                sb.append('/');
            }
            start = end + 1;
        }
        return sb == null ? path : sb.toString();
    }

    /** Digits only; a UUID; 16+ hex digits; or 16+ characters with both letters and digits. */
    static boolean isIdentifier(String s, int from, int to) {
        int len = to - from;
        if (len == 0) {
            return false;
        }
        boolean allDigits = true;
        boolean allHex = true;
        boolean letters = false;
        boolean digits = false;
        for (int i = from; i < to; i++) {
            char c = s.charAt(i);
            boolean d = c >= '0' && c <= '9';
            boolean hex = d || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '-';
            digits |= d;
            letters |= Character.isLetter(c);
            allDigits &= d;
            allHex &= hex;
        }
        if (allDigits) {
            return true;
        }
        if (allHex && digits && len >= 16) {
            return true; // hex ids, UUIDs
        }
        return len >= 16 && letters && digits;
    }
}
