package dev.ward.authz.identity;

import java.util.Objects;

/**
 * One entry of an identity allow-list: an exact SPIFFE ID, every workload in a namespace
 * ({@code spiffe://td/ns/N/*}), every workload of a trust domain ({@code spiffe://td/*}), or
 * {@code *}, any authenticated peer.
 *
 * <p>A pattern matches whole path segments only: {@code spiffe://td/ns/a/*} never matches
 * {@code spiffe://td/ns/ab/sa/x}.
 */
public final class IdentityPattern {

    private final String text;
    private final String trustDomain; // null for "*"
    private final String pathPrefix;  // with trailing '/', for wildcard patterns; null if exact
    private final SpiffeId exact;

    private IdentityPattern(String text, String trustDomain, String pathPrefix, SpiffeId exact) {
        this.text = text;
        this.trustDomain = trustDomain;
        this.pathPrefix = pathPrefix;
        this.exact = exact;
    }

    /**
     * Parses a pattern.
     *
     * @throws IllegalArgumentException naming what is wrong
     */
    public static IdentityPattern parse(String text) {
        Objects.requireNonNull(text, "pattern");
        String t = text.trim();
        if (t.equals("*")) {
            return new IdentityPattern(t, null, null, null);
        }
        if (t.endsWith("/*")) {
            String base = t.substring(0, t.length() - 2);
            SpiffeId id;
            try {
                id = SpiffeId.parse(base);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("identity pattern: " + text
                        + " (expected: spiffe://td/*, spiffe://td/ns/N/*, an exact spiffe id or *)", e);
            }
            if (!id.path().isEmpty() && !id.path().matches("/ns/[^/]+")) {
                throw new IllegalArgumentException("identity pattern: " + text
                        + " (expected: a wildcard only as spiffe://td/* or spiffe://td/ns/N/*)");
            }
            return new IdentityPattern(t, id.trustDomain(), id.path() + "/", null);
        }
        if (t.contains("*")) {
            throw new IllegalArgumentException("identity pattern: " + text
                    + " (expected: '*' only as the whole pattern or as the last path segment)");
        }
        SpiffeId id = SpiffeId.parse(t);
        return new IdentityPattern(t, id.trustDomain(), null, id);
    }

    /** True if {@code peer} is covered by this pattern. */
    public boolean matches(SpiffeId peer) {
        if (peer == null) {
            return false;
        }
        if (trustDomain == null) {
            return true;
        }
        if (exact != null) {
            return exact.equals(peer);
        }
        return trustDomain.equals(peer.trustDomain()) && peer.path().startsWith(pathPrefix);
    }

    /** True for {@code *}, which admits any authenticated peer. */
    public boolean isAnyPeer() {
        return trustDomain == null;
    }

    @Override
    public String toString() {
        return text;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof IdentityPattern p && p.text.equals(text);
    }

    @Override
    public int hashCode() {
        return text.hashCode();
    }
}
