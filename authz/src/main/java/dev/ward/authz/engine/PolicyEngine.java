package dev.ward.authz.engine;

import dev.ward.authz.identity.IdentityPattern;
import dev.ward.authz.identity.SpiffeId;
import dev.ward.authz.policy.PathPattern;
import dev.ward.authz.policy.Policy;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Decides requests against one {@link Policy}, compiled once into bitset indexes over the rules
 * (by method, by a path trie, by identity), so a decision costs about the same with 1 or 1,000
 * rules: three index lookups, a bitwise AND, then the few surviving candidates' header and token
 * checks. Immutable and thread-safe; swap the whole engine to change policy.
 *
 * <p>Fails closed: a null peer matches no rule; no rule matching means the policy default, which
 * is deny unless the document says otherwise; an invalid token is refused even where a token is
 * optional.
 */
public final class PolicyEngine {

    private final Policy policy;
    private final Policy.Rule[] rules;
    /** The decision each rule makes when it allows a request: the same every time, so made once. */
    private final Decision[] allowedBy;
    private final int words;
    private final long[] anyMethod;
    private final Map<String, long[]> byMethod = new HashMap<>();
    private final Node paths; // built in the constructor: Node's bitsets need `words` set first
    private final long[] anyPeer;
    private final Map<SpiffeId, long[]> byId = new HashMap<>();
    private final Map<String, long[]> byNamespace = new HashMap<>();
    private final Map<String, long[]> byTrustDomain = new HashMap<>();

    /** One level of the path trie. */
    private final class Node {
        final Map<String, Node> children = new HashMap<>();
        Node star;
        final long[] exact = new long[words];
        final long[] prefix = new long[words];
        /**
         * {@link #children} as an open-addressed table (by {@link String#hashCode}, linear
         * probing, at most half full), made once the trie is built, so that a request's path
         * segment is looked up where it lies in the path, without a substring made of it.
         */
        private String[] keys;
        private Node[] values;

        void freeze() {
            if (!children.isEmpty()) {
                int size = Integer.highestOneBit(children.size() * 4 - 1);
                keys = new String[size];
                values = new Node[size];
                for (Map.Entry<String, Node> e : children.entrySet()) {
                    int i = e.getKey().hashCode() & (size - 1);
                    while (keys[i] != null) {
                        i = (i + 1) & (size - 1);
                    }
                    keys[i] = e.getKey();
                    values[i] = e.getValue();
                }
            }
            for (Node c : children.values()) {
                c.freeze();
            }
            if (star != null) {
                star.freeze();
            }
        }

        /** The child for segment {@code path[from, to)}, or null. */
        Node child(String path, int from, int to) {
            String[] k = keys;
            if (k == null) {
                return null;
            }
            int h = 0;
            for (int i = from; i < to; i++) {
                h = 31 * h + path.charAt(i);
            }
            int length = to - from;
            for (int i = h & (k.length - 1); k[i] != null; i = (i + 1) & (k.length - 1)) {
                if (k[i].length() == length && path.regionMatches(from, k[i], 0, length)) {
                    return values[i];
                }
            }
            return null;
        }
    }

    private PolicyEngine(Policy policy) {
        this.policy = policy;
        this.rules = policy.rules().toArray(new Policy.Rule[0]);
        this.allowedBy = new Decision[rules.length];
        for (int i = 0; i < rules.length; i++) {
            allowedBy[i] = new Decision(true, rules[i].name(), "allowed", false, List.of());
        }
        this.words = Math.max(1, (rules.length + 63) / 64);
        this.anyMethod = new long[words];
        this.anyPeer = new long[words];
        this.paths = new Node();
        for (int i = 0; i < rules.length; i++) {
            Policy.Rule r = rules[i];
            if (r.anyMethod()) {
                set(anyMethod, i);
            } else {
                for (String m : r.methods()) {
                    set(byMethod.computeIfAbsent(m, k -> new long[words]), i);
                }
            }
            for (PathPattern p : r.paths()) {
                Node n = paths;
                for (String seg : p.segments()) {
                    if (seg.equals("*")) {
                        n = n.star != null ? n.star : (n.star = new Node());
                    } else {
                        n = n.children.computeIfAbsent(seg, k -> new Node());
                    }
                }
                set(p.prefix() ? n.prefix : n.exact, i);
            }
            for (IdentityPattern id : r.from()) {
                String t = id.toString();
                if (id.isAnyPeer()) {
                    set(anyPeer, i);
                } else if (t.endsWith("/*")) {
                    String base = t.substring(0, t.length() - 2);
                    SpiffeId b = SpiffeId.parse(base);
                    if (b.path().isEmpty()) {
                        set(byTrustDomain.computeIfAbsent(b.trustDomain(), k -> new long[words]), i);
                    } else {
                        set(byNamespace.computeIfAbsent(base, k -> new long[words]), i);
                    }
                } else {
                    set(byId.computeIfAbsent(SpiffeId.parse(t), k -> new long[words]), i);
                }
            }
        }
        paths.freeze();
        // A method's rules with the rules for any method, once, so a decision need not combine them.
        for (long[] m : byMethod.values()) {
            or(m, anyMethod);
        }
    }

    public static PolicyEngine compile(Policy policy) {
        return new PolicyEngine(policy);
    }

    public Policy policy() {
        return policy;
    }

    public Decision decide(RequestFacts req) {
        return decide(req, false);
    }

    /** Like {@link #decide}, and for a deny also lists the rules that came close. For tools, not the hot path. */
    public Decision explain(RequestFacts req) {
        return decide(req, true);
    }

    private Decision decide(RequestFacts req, boolean explain) {
        long[] method = methodBits(req.method());
        long[] path = pathBits(req.path());
        long[] peer = peerBits(req.peer());
        String closest = null;
        boolean covered = false;
        for (int w = 0; w < words; w++) {
            long mp = method[w] & path[w];
            covered |= mp != 0;
            for (long bits = mp & peer[w]; bits != 0; bits &= bits - 1) {
                int i = w * 64 + Long.numberOfTrailingZeros(bits);
                Policy.Rule r = rules[i];
                if (!headersMatch(r, req)) {
                    closest = closest == null ? "header_mismatch" : closest;
                    continue;
                }
                String tokenProblem = tokenProblem(r, req.token());
                if (tokenProblem == null) {
                    return allowedBy[i];
                }
                if (closest == null || !closest.startsWith("token_")) {
                    closest = tokenProblem;
                }
            }
        }
        if (policy.defaultAllow()) {
            // The default allows, except a presented token that failed verification (fails closed).
            if (!(req.token() instanceof TokenFacts.Invalid inv)) {
                return new Decision(true, "default", "default_allow", false, List.of());
            }
            closest = inv.reason();
        }
        String reason = closest != null ? closest : covered ? "identity_not_allowed" : "no_matching_rule";
        boolean audit = policy.mode() == Policy.Mode.AUDIT;
        return new Decision(audit, "default", reason, audit, explain ? nearMisses(req) : List.of());
    }

    private static String tokenProblem(Policy.Rule r, TokenFacts t) {
        return switch (r.token()) {
            case REQUIRED -> t instanceof TokenFacts.Valid ? null
                    : t instanceof TokenFacts.Invalid inv ? inv.reason() : "token_missing";
            case OPTIONAL -> t instanceof TokenFacts.Invalid inv ? inv.reason() : null;
            case FORBIDDEN -> t instanceof TokenFacts.None ? null : "token_forbidden";
        };
    }

    private static boolean headersMatch(Policy.Rule r, RequestFacts req) {
        for (Map.Entry<String, String> h : r.headers().entrySet()) {
            if (!h.getValue().equals(req.headers().apply(h.getKey()))) {
                return false;
            }
        }
        return true;
    }

    /** The rules that allow {@code method} (by name or any method). Read only: callers must not write to it. */
    private long[] methodBits(String method) {
        long[] m = byMethod.get(method);
        return m != null ? m : anyMethod;
    }

    private long[] pathBits(String path) {
        long[] out = new long[words];
        if (path == null || path.isEmpty() || path.charAt(0) != '/') {
            return out;
        }
        walk(paths, path, 1, out);
        return out;
    }

    /** Collects the rules whose patterns match {@code path} from {@code pos} on, below {@code n}. */
    private void walk(Node n, String path, int pos, long[] out) {
        if (pos > path.length()) {
            or(out, n.exact); // the whole path was consumed at this node
            return;
        }
        or(out, n.prefix); // at least one more segment (possibly empty: "/orders/") below a prefix pattern
        int end = path.indexOf('/', pos);
        if (end < 0) {
            end = path.length();
        }
        Node child = n.child(path, pos, end);
        if (child != null) {
            walk(child, path, end + 1, out);
        }
        if (n.star != null && end > pos) {
            walk(n.star, path, end + 1, out);
        }
    }

    /** The last peer's rules (never written to once made): a connection's requests all come from one peer. */
    private record PeerRules(SpiffeId peer, long[] bits) {
    }

    private PeerRules lastPeer; // racy on purpose: each value is immutable, a lost update only costs a recompute

    /** The rules that name {@code peer} (by id, namespace or trust domain) or any peer. Read only: callers must not write to it. */
    private long[] peerBits(SpiffeId peer) {
        if (peer == null) {
            return new long[words];
        }
        PeerRules last = lastPeer;
        if (last != null && last.peer().equals(peer)) {
            return last.bits();
        }
        long[] out = new long[words];
        or(out, anyPeer);
        or(out, byId.get(peer));
        or(out, byTrustDomain.get(peer.trustDomain()));
        if (peer.namespace() != null) {
            or(out, byNamespace.get(peer.namespace()));
        }
        lastPeer = new PeerRules(peer, out);
        return out;
    }

    private List<Decision.NearMiss> nearMisses(RequestFacts req) {
        long[] method = methodBits(req.method());
        long[] path = pathBits(req.path());
        long[] peer = peerBits(req.peer());
        List<Decision.NearMiss> all = new ArrayList<>();
        for (int i = 0; i < rules.length; i++) {
            Policy.Rule r = rules[i];
            List<String> failed = new ArrayList<>();
            if (!isSet(peer, i)) {
                failed.add("from");
            }
            if (!isSet(method, i)) {
                failed.add("methods");
            }
            if (!isSet(path, i)) {
                failed.add("paths");
            }
            if (!headersMatch(r, req)) {
                failed.add("headers");
            }
            String t = tokenProblem(r, req.token());
            if (t != null) {
                failed.add("token (" + t + ")");
            }
            if (!failed.isEmpty() && failed.size() <= 2) {
                all.add(new Decision.NearMiss(r.name(), List.copyOf(failed)));
            }
        }
        all.sort(Comparator.comparingInt(n -> n.failed().size()));
        return List.copyOf(all);
    }

    private static void set(long[] bits, int i) {
        bits[i >>> 6] |= 1L << i;
    }

    private static boolean isSet(long[] bits, int i) {
        return (bits[i >>> 6] & (1L << i)) != 0;
    }

    private void or(long[] into, long[] from) {
        if (from != null) {
            for (int w = 0; w < words; w++) {
                into[w] |= from[w];
            }
        }
    }
}
