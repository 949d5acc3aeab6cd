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
public final class SpiffeId {

    private static final String SCHEME = "spiffe://";
    private static final int MAX_LENGTH = 2048;

    private final String trustDomain;
    private final String path;
    /**
     * The URI string and the namespace prefix, made once: a peer's id is read on every request
     * it sends (authorization, the identity headers for the app, the logs), and building them per
     * request cost an inbound sidecar about 300 B and three string concatenations each time.
     */
    private final String uri;
    private final String namespace;

    public SpiffeId(String trustDomain, String path) {
        this.trustDomain = Objects.requireNonNull(trustDomain, "trustDomain");
        this.path = Objects.requireNonNull(path, "path");
        this.uri = SCHEME + trustDomain + path;
        int slash = path.startsWith("/ns/") ? path.indexOf('/', 4) : -2;
        this.namespace = slash == -2 ? null : SCHEME + trustDomain + (slash < 0 ? path : path.substring(0, slash));
    }

    /** The trust domain, {@code prod.example} in {@code spiffe://prod.example/ns/a/sa/b}. */
    public String trustDomain() {
        return trustDomain;
    }

    /** The path, {@code /ns/a/sa/b} in {@code spiffe://prod.example/ns/a/sa/b}; empty for none. */
    public String path() {
        return path;
    }

    /**
     * The id of the namespace this id's path names, {@code spiffe://prod.example/ns/a} for
     * {@code spiffe://prod.example/ns/a/sa/b}; null when the path does not start with {@code /ns/}.
     */
    public String namespace() {
        return namespace;
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

    @Override
    public boolean equals(Object o) {
        return o == this || o instanceof SpiffeId other && uri.equals(other.uri);
    }

    @Override
    public int hashCode() {
        return uri.hashCode();
    }

    /** The id as a URI string, {@code spiffe://td/path}. */
    @Override
    public String toString() {
        return uri;
    }
}
