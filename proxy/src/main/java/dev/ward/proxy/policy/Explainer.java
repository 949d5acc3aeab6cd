package dev.ward.proxy.policy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ward.authz.engine.Decision;
import dev.ward.authz.engine.PolicyEngine;
import dev.ward.authz.engine.RequestFacts;
import dev.ward.authz.engine.TokenFacts;
import dev.ward.authz.identity.SpiffeId;
import dev.ward.authz.path.PathNormalizer;
import java.util.Locale;
import java.util.Map;

/**
 * Answers "what would the policy do with this request?" without sending one: the normalized
 * path (or why it would be refused), the decision, the rule or default that made it, and for a
 * deny the rules that came close and which of their conditions failed. Used by
 * {@code ward policy explain} and the admin port's {@code POST /explain}.
 */
public final class Explainer {

    private static final ObjectMapper JSON = new ObjectMapper();

    private Explainer() {}

    /** A hypothetical request; {@code headers} keys are matched case-insensitively. */
    public record Question(String from, String method, String path, Map<String, String> headers, String token) {
        public Question(String from, String method, String path, Map<String, String> headers) {
            this(from, method, path, headers, null);
        }
    }

    /** @throws IllegalArgumentException naming the bad field of the question */
    public static ObjectNode explain(PolicyEngine engine, Question q) {
        return explain(engine, null, q);
    }

    /** With the policy's token verifier, so {@code q.token()} (a bare JWT) is verified as a request's would be. */
    public static ObjectNode explain(PolicyEngine engine, dev.ward.authz.jwt.TokenVerifier tokens, Question q) {
        if (q.method() == null || q.method().isBlank()) {
            throw new IllegalArgumentException("method: required (e.g. GET)");
        }
        if (q.path() == null) {
            throw new IllegalArgumentException("path: required (e.g. /orders/1)");
        }
        SpiffeId peer = null;
        if (q.from() != null && !q.from().isBlank()) {
            try {
                peer = SpiffeId.parse(q.from());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("from: " + e.getMessage(), e);
            }
        }
        ObjectNode out = JSON.createObjectNode();
        out.put("service", engine.policy().service());
        if (engine.policy().version() != null) {
            out.put("policyVersion", engine.policy().version());
        }
        PathNormalizer.Result r = new PathNormalizer(engine.policy().encodedSlashes()).normalize(q.path());
        if (r instanceof PathNormalizer.Result.Rejected rej) {
            out.put("decision", "reject");
            out.put("status", 400);
            out.put("reason", rej.reason());
            out.put("detail", rej.detail());
            return out;
        }
        String path = ((PathNormalizer.Result.Normalized) r).path();
        Map<String, String> headers = new java.util.HashMap<>();
        q.headers().forEach((k, v) -> headers.put(k.toLowerCase(Locale.ROOT), v));
        TokenFacts token = TokenFacts.NONE;
        if (q.token() != null && !q.token().isBlank()) {
            token = tokens == null || !tokens.hasIssuers() ? new TokenFacts.Invalid("token_issuer") : tokens.verifyToken(q.token().trim());
            out.put("token", token instanceof TokenFacts.Valid v ? "valid (sub " + v.subject() + ", iss " + v.issuer() + ")"
                    : ((TokenFacts.Invalid) token).reason());
        }
        Decision d = engine.explain(new RequestFacts(peer, q.method().toUpperCase(Locale.ROOT), path, headers::get, token));
        out.put("normalizedPath", path);
        out.put("decision", d.audited() ? "allow (audit mode; enforce would deny)" : d.allowed() ? "allow" : "deny");
        out.put("status", d.allowed() ? 200 : d.isTokenProblem() && !"token_forbidden".equals(d.reason()) ? 401 : 403);
        out.put("rule", d.rule());
        out.put("reason", d.reason());
        if (!d.nearMisses().isEmpty()) {
            var near = out.putArray("nearMisses");
            for (Decision.NearMiss n : d.nearMisses()) {
                ObjectNode o = near.addObject();
                o.put("rule", n.rule());
                var f = o.putArray("failed");
                n.failed().forEach(f::add);
            }
        }
        return out;
    }

    /** The same answer as a few lines for a terminal. */
    public static String text(ObjectNode a) {
        StringBuilder sb = new StringBuilder();
        sb.append(a.path("decision").asText().toUpperCase(Locale.ROOT)).append(" (").append(a.path("status").asInt()).append(")");
        if (a.has("rule")) {
            sb.append(" by ").append(a.path("rule").asText().equals("default") ? "the policy default" : "rule '" + a.path("rule").asText() + "'");
        }
        sb.append(": ").append(a.path("reason").asText());
        if (a.has("detail")) {
            sb.append(" - ").append(a.path("detail").asText());
        }
        sb.append('\n');
        if (a.has("normalizedPath")) {
            sb.append("  normalized path: ").append(a.path("normalizedPath").asText()).append('\n');
        }
        if (a.has("token")) {
            sb.append("  token: ").append(a.path("token").asText()).append('\n');
        }
        for (var n : a.path("nearMisses")) {
            sb.append("  close: rule '").append(n.path("rule").asText()).append("' failed on ");
            var f = n.path("failed");
            for (int i = 0; i < f.size(); i++) {
                sb.append(i == 0 ? "" : ", ").append(f.get(i).asText());
            }
            sb.append('\n');
        }
        return sb.toString();
    }
}
