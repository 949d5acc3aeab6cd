package dev.ward.authz.identity;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A default-deny list of peer identities: a peer is allowed only if some pattern matches it.
 * An empty list denies everyone (fails closed). Exact ids are checked with one hash lookup, so
 * the cost does not grow with the number of exact entries.
 */
public final class AllowList {

    private final List<IdentityPattern> patterns;
    private final Set<SpiffeId> exact = new HashSet<>();
    private final List<IdentityPattern> wildcards = new ArrayList<>();

    private AllowList(List<IdentityPattern> patterns) {
        this.patterns = List.copyOf(patterns);
        for (IdentityPattern p : patterns) {
            if (!p.toString().contains("*")) {
                exact.add(SpiffeId.parse(p.toString()));
            } else {
                wildcards.add(p);
            }
        }
    }

    /** Parses every entry; the first bad one is reported as {@code allow[i]: ...}. */
    public static AllowList of(List<String> entries) {
        List<IdentityPattern> parsed = new ArrayList<>();
        for (int i = 0; i < entries.size(); i++) {
            try {
                parsed.add(IdentityPattern.parse(entries.get(i)));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("allow[" + i + "]: " + e.getMessage(), e);
            }
        }
        return new AllowList(parsed);
    }

    /** An allow-list that denies every peer. */
    public static AllowList denyAll() {
        return new AllowList(List.of());
    }

    public boolean allows(SpiffeId peer) {
        if (peer == null) {
            return false;
        }
        if (exact.contains(peer)) {
            return true;
        }
        for (IdentityPattern p : wildcards) {
            if (p.matches(peer)) {
                return true;
            }
        }
        return false;
    }

    public List<IdentityPattern> patterns() {
        return patterns;
    }

    @Override
    public String toString() {
        return patterns.toString();
    }
}
