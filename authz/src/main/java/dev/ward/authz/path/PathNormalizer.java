package dev.ward.authz.path;

import java.util.Objects;

/**
 * Turns a request-target into the one canonical path that is both authorized and forwarded, so
 * the policy and the app can never disagree about what was asked for. Fails closed: anything
 * ambiguous is rejected with a reason rather than guessed at.
 *
 * <p>In order: the target must be origin-form ({@code /path[?query]}, no fragment); raw control
 * characters, spaces, non-ASCII, {@code ;} (matrix parameters, a classic authorization bypass)
 * and malformed {@code %} escapes are rejected; percent-encoded unreserved characters
 * (RFC 3986 2.3) are decoded and other escapes upper-cased; encoded NUL and control characters
 * are rejected; encoded {@code /} and {@code \} and a raw {@code \} follow {@link SlashAction};
 * repeated slashes are merged; dot segments are removed (RFC 3986 5.2.4), so {@code ..} can
 * never climb above the root. The query string is kept as sent. Matching stays case-sensitive.
 */
public final class PathNormalizer {

    /** What to do with {@code %2F}, {@code %5C} and a raw {@code \} in the path. */
    public enum SlashAction {
        /** 400: the safe default; such paths are how proxies get bypassed. */
        REJECT,
        /** Keep them encoded ({@code %2F}, {@code %5C}): never a separator, matched literally. */
        KEEP,
        /** Decode them to {@code /} and normalize as a separator. */
        DECODE
    }

    /** The outcome: a normalized target, or the reason it was refused. */
    public sealed interface Result {
        /** {@code path} is normalized; {@code query} is null when there was no {@code ?}. */
        record Normalized(String path, String query) implements Result {
            /** The request-target to forward: path, and {@code ?query} if there was one. */
            public String target() {
                return query == null ? path : path + "?" + query;
            }
        }

        /** {@code reason} is a snake_case code; {@code detail} a sentence for the caller. */
        record Rejected(String reason, String detail) implements Result {}
    }

    private static final int MAX_LENGTH = 8192;

    private final SlashAction slashAction;

    public PathNormalizer(SlashAction slashAction) {
        this.slashAction = Objects.requireNonNull(slashAction, "slashAction");
    }

    public static PathNormalizer ofDefaults() {
        return new PathNormalizer(SlashAction.REJECT);
    }

    public Result normalize(String target) {
        if (target == null || target.isEmpty() || target.charAt(0) != '/') {
            return new Result.Rejected("not_origin_form", "the request-target must be a path starting with '/'");
        }
        if (target.length() > MAX_LENGTH) {
            return new Result.Rejected("path_too_long", "the request-target is longer than " + MAX_LENGTH + " characters");
        }
        int q = target.indexOf('?');
        String rawPath = q < 0 ? target : target.substring(0, q);
        String query = q < 0 ? null : target.substring(q + 1);
        if (query != null) {
            for (int i = 0; i < query.length(); i++) {
                char c = query.charAt(i);
                if (c <= 0x20 || c >= 0x7f || c == '#') {
                    return new Result.Rejected("invalid_character", "the query has a character that must be percent-encoded");
                }
            }
        }
        if (canonical(rawPath)) {
            return new Result.Normalized(rawPath, query); // what the steps below would make of it, without the copies
        }
        return normalizePath(rawPath, query);
    }

    /**
     * Whether {@code path} (absolute, no query) is already what {@link #normalizePath} makes of it:
     * only characters that are kept as they are (no {@code %}, {@code \}, control, space,
     * non-ASCII or other character refused below), no repeated {@code /} and no {@code .} or
     * {@code ..} segment. Most paths are, and then normalizing is one pass that copies nothing.
     */
    static boolean canonical(String path) {
        int n = path.length();
        for (int i = 0; i < n; i++) {
            char c = path.charAt(i);
            if (c <= 0x20 || c >= 0x7f || c == '%' || c == '\\' || c == ';' || c == '#' || c == '"' || c == '<'
                    || c == '>' || c == '`' || c == '{' || c == '}' || c == '|' || c == '^') {
                return false;
            }
            if (c == '/' && i + 1 < n) {
                char d = path.charAt(i + 1);
                if (d == '/') {
                    return false;
                }
                if (d == '.') { // a "." or ".." segment: "/." or "/.." then the end or '/'
                    int j = i + 2;
                    if (j == n || path.charAt(j) == '/'
                            || path.charAt(j) == '.' && (j + 1 == n || path.charAt(j + 1) == '/')) {
                        return false;
                    }
                }
            }
        }
        return true;
    }

    /** Every step for a path that is not {@link #canonical}: decoding, checks, slashes, dot segments. */
    Result normalizePath(String rawPath, String query) {
        StringBuilder decoded = new StringBuilder(rawPath.length());
        for (int i = 0; i < rawPath.length(); i++) {
            char c = rawPath.charAt(i);
            if (c == '%') {
                if (i + 2 >= rawPath.length() || hex(rawPath.charAt(i + 1)) < 0 || hex(rawPath.charAt(i + 2)) < 0) {
                    return new Result.Rejected("bad_percent_encoding", "'%' must be followed by two hex digits");
                }
                int v = hex(rawPath.charAt(i + 1)) * 16 + hex(rawPath.charAt(i + 2));
                i += 2;
                if (v < 0x20 || v == 0x7f) {
                    return new Result.Rejected("control_character", "the path has an encoded NUL or control character");
                }
                if (v == '/' || v == '\\') {
                    switch (slashAction) {
                        case REJECT -> {
                            return new Result.Rejected("encoded_slash", "encoded '/' or '\\' in the path is not allowed");
                        }
                        case KEEP -> decoded.append(v == '/' ? "%2F" : "%5C");
                        case DECODE -> decoded.append('/');
                    }
                } else if (isUnreserved(v)) {
                    decoded.append((char) v);
                } else {
                    decoded.append('%').append(HEX[v >> 4]).append(HEX[v & 15]);
                }
                continue;
            }
            if (c < 0x20 || c == 0x7f) {
                return new Result.Rejected("control_character", "the path has a NUL or control character");
            }
            if (c == ' ' || c > 0x7e || c == '#' || c == '"' || c == '<' || c == '>' || c == '`' || c == '{' || c == '}'
                    || c == '|' || c == '^') {
                return new Result.Rejected("invalid_character", "the path has a character that must be percent-encoded");
            }
            if (c == ';') {
                return new Result.Rejected("matrix_parameter", "';' (matrix parameters) is not allowed in the path");
            }
            if (c == '\\') {
                switch (slashAction) {
                    case REJECT -> {
                        return new Result.Rejected("encoded_slash", "'\\' in the path is not allowed");
                    }
                    case KEEP -> decoded.append("%5C");
                    case DECODE -> decoded.append('/');
                }
                continue;
            }
            decoded.append(c);
        }
        return new Result.Normalized(removeDotSegments(mergeSlashes(decoded)), query);
    }

    private static String mergeSlashes(CharSequence p) {
        StringBuilder sb = new StringBuilder(p.length());
        for (int i = 0; i < p.length(); i++) {
            char c = p.charAt(i);
            if (c == '/' && sb.length() > 0 && sb.charAt(sb.length() - 1) == '/') {
                continue;
            }
            sb.append(c);
        }
        return sb.toString();
    }

    /** RFC 3986 5.2.4, for an absolute path without empty segments. */
    static String removeDotSegments(String path) {
        String[] segments = path.substring(1).split("/", -1);
        java.util.ArrayDeque<String> out = new java.util.ArrayDeque<>(segments.length);
        boolean trailingSlash = false;
        for (int i = 0; i < segments.length; i++) {
            String s = segments[i];
            boolean last = i == segments.length - 1;
            if (s.equals(".")) {
                trailingSlash = last;
            } else if (s.equals("..")) {
                out.pollLast();
                trailingSlash = last;
            } else {
                out.addLast(s);
                trailingSlash = false;
            }
        }
        StringBuilder sb = new StringBuilder(path.length());
        for (String s : out) {
            sb.append('/').append(s);
        }
        if (sb.length() == 0 || (trailingSlash && sb.charAt(sb.length() - 1) != '/')) {
            sb.append('/');
        }
        return sb.toString();
    }

    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    private static int hex(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    }

    private static boolean isUnreserved(int c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || c == '-' || c == '.' || c == '_' || c == '~';
    }
}
