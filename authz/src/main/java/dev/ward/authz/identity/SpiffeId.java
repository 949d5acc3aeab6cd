package dev.ward.authz.identity;

import java.util.Objects;

/**
 * A SPIFFE ID ({@code spiffe://trust-domain/path}), parsed and validated once.
 *
 * <p>Follows the SPIFFE-ID specification: the scheme is lower-case {@code spiffe}, the trust
 * domain is lower-case letters, digits, {@code .}, {@code -} and {@code _}; the path is made of
 * non-empty segments of letters, digits, {@code .}, {@code -} and {@code _}, none of them
 * {@code .} or {@code ..}; no query, fragment, port or user info. Parsing never accepts a
 * string that does not follow the rules (fails closed).
 */
public record SpiffeId(String trustDomain, String path) {

    private static final String SCHEME = "spiffe://";
    private static final int MAX_LENGTH = 2048;

    public SpiffeId {
        Objects.requireNonNull(trustDomain, "trustDomain");
        Objects.requireNonNull(path, "path");
    }

    /**
     * Parses {@code value} as a SPIFFE ID.
     *
     * @throws IllegalArgumentException naming what is wrong, e.g.
     *     {@code "spiffe id: http://x (expected: scheme spiffe://)"}
     */
    public static SpiffeId parse(String value) {
        if (value == null) {
            throw new IllegalArgumentException("spiffe id: null (expected: spiffe://trust-domain/path)");
        }
        if (value.length() > MAX_LENGTH) {
            throw invalid(value, "at most " + MAX_LENGTH + " characters");
        }
        if (!value.startsWith(SCHEME)) {
            throw invalid(value, "scheme spiffe://");
        }
        int slash = value.indexOf('/', SCHEME.length());
        String td = slash < 0 ? value.substring(SCHEME.length()) : value.substring(SCHEME.length(), slash);
        String path = slash < 0 ? "" : value.substring(slash);
        validateTrustDomain(td, value);
        validatePath(path, value);
        return new SpiffeId(td, path);
    }

    /** Validates a bare trust domain name such as {@code prod.example}. */
    public static String requireTrustDomain(String td) {
        validateTrustDomain(td, td);
        return td;
    }

    private static void validateTrustDomain(String td, String whole) {
        if (td == null || td.isEmpty()) {
            throw invalid(whole, "a non-empty trust domain");
        }
        for (int i = 0; i < td.length(); i++) {
            char c = td.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
            if (!ok) {
                throw invalid(whole, "trust domain of lower-case letters, digits, '.', '-', '_' only; found '" + c + "'");
            }
        }
    }

    private static void validatePath(String path, String whole) {
        if (path.isEmpty()) {
            return;
        }
        int segStart = 1;
        for (int i = 1; i <= path.length(); i++) {
            if (i == path.length() || path.charAt(i) == '/') {
                String seg = path.substring(segStart, i);
                if (seg.isEmpty()) {
                    throw invalid(whole, "no empty path segments or trailing '/'");
                }
                if (seg.equals(".") || seg.equals("..")) {
                    throw invalid(whole, "no '.' or '..' path segments");
                }
                segStart = i + 1;
                continue;
            }
            char c = path.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '.' || c == '-' || c == '_';
            if (!ok) {
                throw invalid(whole, "path of letters, digits, '.', '-', '_' and '/' only; found '" + c + "'");
            }
        }
    }

    private static IllegalArgumentException invalid(String value, String expected) {
        return new IllegalArgumentException("spiffe id: " + value + " (expected: " + expected + ")");
    }

    /** The id as a URI string, {@code spiffe://td/path}. */
    @Override
    public String toString() {
        return SCHEME + trustDomain + path;
    }
}
