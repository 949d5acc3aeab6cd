package dev.ward.authz.engine;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ward.authz.identity.SpiffeId;
import dev.ward.authz.path.PathNormalizer;
import dev.ward.authz.policy.Policy;
import dev.ward.authz.policy.PolicyParser;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class PolicyEngineTest {

    static final String TD = "spiffe://prod.example";
    static final SpiffeId FRONTEND = SpiffeId.parse(TD + "/ns/shop/sa/frontend");
    static final SpiffeId ADMIN = SpiffeId.parse(TD + "/ns/ops/sa/admin");
    static final SpiffeId STRANGER = SpiffeId.parse(TD + "/ns/other/sa/x");

    static PolicyEngine engine(String yaml) throws Exception {
        return PolicyEngine.compile(PolicyParser.parse(yaml, "t"));
    }

    static final String POLICY = """
            service: orders
            tokens:
              - { issuer: https://auth.example, jwks: { file: j.json }, audiences: [orders] }
            rules:
              - name: frontend-reads
                from: [%1$s/ns/shop/sa/frontend]
                methods: [GET, HEAD]
                paths: [/orders, /orders/*]
              - name: ops-anything
                from: ["%1$s/ns/ops/*"]
                methods: ["*"]
                paths: ["/ops/*"]
              - name: items-of-an-order
                from: ["%1$s/*"]
                methods: [GET]
                paths: [/orders/*/items]
              - name: tenant-export
                from: [%1$s/ns/shop/sa/frontend]
                methods: [POST]
                paths: [/export]
                headers: { x-tenant: acme }
              - name: payments
                from: [%1$s/ns/shop/sa/frontend]
                methods: [POST]
                paths: [/pay]
                token: required
              - name: no-tokens-here
                from: [%1$s/ns/shop/sa/frontend]
                methods: [GET]
                paths: [/internal]
                token: forbidden
              - name: public
                from: ["*"]
                methods: [GET]
                paths: [/public/*]
            """.formatted(TD);

    static String decide(PolicyEngine e, SpiffeId peer, String method, String path) {
        Decision d = e.decide(RequestFacts.of(peer, method, path));
        return (d.allowed() ? "allow " : "deny ") + (d.allowed() ? d.rule() : d.reason());
    }

    @ParameterizedTest(name = "{0} {1} {2} -> {3}")
    @CsvSource(delimiter = '|', value = {
        "frontend | GET    | /orders              | allow frontend-reads",
        "frontend | HEAD   | /orders/42           | allow frontend-reads",
        "frontend | GET    | /orders/             | allow frontend-reads",
        "frontend | DELETE | /orders/42           | deny no_matching_rule",
        "frontend | GET    | /ordersX             | deny no_matching_rule",
        "frontend | GET    | /Orders              | deny no_matching_rule",
        "frontend | GET    | /admin               | deny no_matching_rule",
        "admin    | DELETE | /ops/anything/at/all | allow ops-anything",
        "admin    | GET    | /                    | deny no_matching_rule",
        "frontend | GET    | /ops/x               | deny identity_not_allowed",
        "stranger | GET    | /orders/42/items     | allow items-of-an-order",
        "stranger | GET    | /orders/42/items/x   | deny identity_not_allowed",
        "stranger | GET    | /other/42/items      | deny no_matching_rule",
        "stranger | GET    | /orders              | deny identity_not_allowed",
        "stranger | GET    | /public/x            | allow public",
        "stranger | GET    | /public              | deny no_matching_rule",
        "nobody   | GET    | /public/x            | deny identity_not_allowed",
        "nobody   | GET    | /nothing             | deny no_matching_rule",
    })
    void decidesByIdentityMethodAndPath(String who, String method, String path, String expected) throws Exception {
        SpiffeId peer = switch (who) {
            case "frontend" -> FRONTEND;
            case "admin" -> ADMIN;
            case "stranger" -> STRANGER;
            default -> null;
        };
        assertThat(decide(engine(POLICY), peer, method, path)).isEqualTo(expected);
    }

    /**
     * One engine, peers alternating request by request (it keeps the last peer's rules): each
     * answer is the one a fresh engine, which has seen no peer before, gives.
     */
    @Test
    void peersAlternatingOnOneEngineGetTheirOwnAnswers() throws Exception {
        PolicyEngine shared = engine(POLICY);
        SpiffeId[] peers = {FRONTEND, STRANGER, STRANGER, ADMIN, FRONTEND, SpiffeId.parse(FRONTEND.toString()), null, ADMIN, STRANGER};
        String[][] requests = {{"GET", "/orders/42"}, {"GET", "/orders/42/items"}, {"DELETE", "/ops/x"}, {"GET", "/public/x"}};
        for (int round = 0; round < 2; round++) {
            for (SpiffeId peer : peers) {
                for (String[] q : requests) {
                    assertThat(decide(shared, peer, q[0], q[1])).as("%s %s %s", peer, q[0], q[1])
                            .isEqualTo(decide(engine(POLICY), peer, q[0], q[1]));
                }
            }
        }
        assertThat(decide(shared, FRONTEND, "GET", "/orders/42")).isEqualTo("allow frontend-reads");
        assertThat(decide(shared, STRANGER, "GET", "/orders/42")).isEqualTo("deny identity_not_allowed");
        assertThat(decide(shared, ADMIN, "DELETE", "/ops/x")).isEqualTo("allow ops-anything");
        assertThat(decide(shared, FRONTEND, "DELETE", "/ops/x")).isEqualTo("deny identity_not_allowed");
    }

    /** The known authorization bypasses of other proxies, through the normalizer and then the engine. */
    @ParameterizedTest
    @CsvSource({"/public/../admin", "/public/%2e%2e/admin", "//admin", "/admin;x", "/admin%2f", "/public/..%2fadmin",
            "/public/%2E%2E/%2E%2E/admin", "/public/./../admin", "/public\\..\\admin"})
    void knownBypassesAreDeniedOrRejected(String target) throws Exception {
        PolicyEngine e = engine(POLICY);
        PathNormalizer.Result r = PathNormalizer.ofDefaults().normalize(target);
        if (r instanceof PathNormalizer.Result.Normalized n) {
            assertThat(n.path()).isEqualTo("/admin");
            assertThat(e.decide(RequestFacts.of(STRANGER, "GET", n.path())).allowed()).isFalse();
        } else {
            assertThat(r).isInstanceOf(PathNormalizer.Result.Rejected.class);
        }
    }

    @Test
    void headerConditionsMustMatchExactly() throws Exception {
        PolicyEngine e = engine(POLICY);
        Map<String, String> acme = Map.of("x-tenant", "acme");
        Map<String, String> other = Map.of("x-tenant", "globex");
        assertThat(e.decide(new RequestFacts(FRONTEND, "POST", "/export", acme::get, TokenFacts.NONE)).rule()).isEqualTo("tenant-export");
        assertThat(e.decide(new RequestFacts(FRONTEND, "POST", "/export", other::get, TokenFacts.NONE)).reason()).isEqualTo("header_mismatch");
    }

    @Test
    void tokenRequirements() throws Exception {
        PolicyEngine e = engine(POLICY);
        TokenFacts valid = new TokenFacts.Valid("https://auth.example", "alice");
        TokenFacts expired = new TokenFacts.Invalid("token_expired");
        assertThat(e.decide(new RequestFacts(FRONTEND, "POST", "/pay", h -> null, TokenFacts.NONE)).reason()).isEqualTo("token_missing");
        assertThat(e.decide(new RequestFacts(FRONTEND, "POST", "/pay", h -> null, expired)).reason()).isEqualTo("token_expired");
        assertThat(e.decide(new RequestFacts(FRONTEND, "POST", "/pay", h -> null, valid)).allowed()).isTrue();
        // optional (the default): no token is fine, a bad token is still refused
        assertThat(e.decide(new RequestFacts(FRONTEND, "GET", "/orders", h -> null, valid)).allowed()).isTrue();
        assertThat(e.decide(new RequestFacts(FRONTEND, "GET", "/orders", h -> null, expired)).reason()).isEqualTo("token_expired");
        assertThat(e.decide(new RequestFacts(FRONTEND, "GET", "/internal", h -> null, valid)).reason()).isEqualTo("token_forbidden");
        assertThat(e.decide(new RequestFacts(FRONTEND, "GET", "/internal", h -> null, TokenFacts.NONE)).allowed()).isTrue();
    }

    @Test
    void auditModeAllowsButSaysWhatEnforceWouldHaveDone() throws Exception {
        PolicyEngine e = engine("service: s\nmode: audit\nrules: []\n");
        Decision d = e.decide(RequestFacts.of(FRONTEND, "GET", "/x"));
        assertThat(d.allowed()).isTrue();
        assertThat(d.audited()).isTrue();
        assertThat(d.reason()).isEqualTo("no_matching_rule");
    }

    @Test
    void defaultAllowMustBeSaidAndStillRefusesBadTokens() throws Exception {
        assertThat(engine("service: s").decide(RequestFacts.of(FRONTEND, "GET", "/x")).allowed()).isFalse();
        PolicyEngine open = engine("service: s\ndefault: allow\n");
        // a rule covering everything makes every other caller "identity_not_allowed"
        assertThat(decide(engine("service: s\nrules: [{name: r, from: [" + ADMIN + "], methods: ['*'], paths: ['/*']}]"),
                FRONTEND, "GET", "/x")).isEqualTo("deny identity_not_allowed");
        assertThat(open.decide(RequestFacts.of(FRONTEND, "GET", "/x")).reason()).isEqualTo("default_allow");
        assertThat(open.decide(new RequestFacts(FRONTEND, "GET", "/x", h -> null, new TokenFacts.Invalid("token_signature")))
                .allowed()).isFalse();
    }

    @Test
    void explainNamesTheRulesThatCameCloseAndWhatFailed() throws Exception {
        Decision d = engine(POLICY).explain(RequestFacts.of(FRONTEND, "PUT", "/orders/42"));
        assertThat(d.allowed()).isFalse();
        assertThat(d.nearMisses()).first().satisfies(n -> {
            assertThat(n.rule()).isEqualTo("frontend-reads");
            assertThat(n.failed()).containsExactly("methods");
        });
    }

    @Test
    void aThousandRulesStillPickTheRightOne() throws Exception {
        StringBuilder y = new StringBuilder("service: big\nrules:\n");
        for (int i = 0; i < 1000; i++) {
            y.append("  - { name: r").append(i).append(", from: [").append(TD).append("/ns/n").append(i % 50)
                    .append("/sa/s").append(i).append("], methods: [GET], paths: [/svc").append(i).append("/*] }\n");
        }
        PolicyEngine e = engine(y.toString());
        assertThat(decide(e, SpiffeId.parse(TD + "/ns/n17/sa/s767"), "GET", "/svc767/x")).isEqualTo("allow r767");
        assertThat(decide(e, SpiffeId.parse(TD + "/ns/n17/sa/s767"), "GET", "/svc766/x")).isEqualTo("deny identity_not_allowed");
        assertThat(decide(e, SpiffeId.parse(TD + "/ns/n17/sa/s767"), "GET", "/nothing")).isEqualTo("deny no_matching_rule");
    }

    /**
     * The indexes agree with the rules read one by one, in order, for a policy of many rules
     * over a few hundred distinct path segments (so a trie level has many children, and segments
     * whose hashes collide), with wildcards, prefixes and trailing slashes, and random paths.
     */
    @Test
    void theIndexesDecideAsTheRulesReadInOrder() throws Exception {
        java.util.Random random = new java.util.Random(45);
        String[] segments = new String[300];
        for (int i = 0; i < segments.length; i++) {
            // "AaAa", "AaBB", "BBAa" and "BBBB" have one hash
            segments[i] = i % 7 == 0 ? ((i / 7 & 1) == 0 ? "Aa" : "BB") + ((i / 7 & 2) == 0 ? "Aa" : "BB") : "s" + i;
        }
        StringBuilder yaml = new StringBuilder("service: orders\nrules:\n");
        java.util.List<String[]> rules = new java.util.ArrayList<>(); // method, pattern
        for (int r = 0; r < 200; r++) {
            String method = new String[] {"GET", "POST", "*"}[random.nextInt(3)];
            StringBuilder pattern = new StringBuilder();
            int depth = 1 + random.nextInt(3);
            for (int d = 0; d < depth; d++) {
                pattern.append('/').append(d > 0 && random.nextInt(5) == 0 ? "*" : segments[random.nextInt(segments.length)]);
            }
            if (random.nextInt(6) == 0) {
                pattern.append(random.nextBoolean() ? "/*" : "/");
            }
            rules.add(new String[] {method, pattern.toString()});
            yaml.append("  - name: r").append(r).append("\n    from: [\"*\"]\n    methods: [\"").append(method)
                    .append("\"]\n    paths: [\"").append(pattern).append("\"]\n");
        }
        PolicyEngine e = engine(yaml.toString());
        int allowed = 0;
        for (int q = 0; q < 5000; q++) {
            String[] from = rules.get(random.nextInt(rules.size()));
            StringBuilder path = new StringBuilder();
            for (String seg : from[1].substring(1).split("/", -1)) {
                path.append('/').append(seg.equals("*") || random.nextInt(8) == 0 ? segments[random.nextInt(segments.length)] : seg);
            }
            if (random.nextInt(5) == 0) {
                path.append('/').append(random.nextBoolean() ? "" : segments[random.nextInt(segments.length)]);
            }
            String method = random.nextBoolean() ? "GET" : "POST";
            String expected = "default";
            for (int r = 0; r < rules.size(); r++) {
                if ((rules.get(r)[0].equals("*") || rules.get(r)[0].equals(method)) && matches(rules.get(r)[1], path.toString())) {
                    expected = "r" + r;
                    break;
                }
            }
            Decision d = e.decide(RequestFacts.of(FRONTEND, method, path.toString()));
            assertThat(d.rule()).as("%s %s", method, path).isEqualTo(expected);
            allowed += d.allowed() ? 1 : 0;
        }
        assertThat(allowed).as("requests a rule allowed").isGreaterThan(1000);
    }

    /** A path pattern matched as PathPattern documents it, segment by segment. */
    private static boolean matches(String pattern, String path) {
        boolean prefix = pattern.endsWith("/*");
        String[] p = (prefix ? pattern.substring(1, pattern.length() - 2) : pattern.substring(1)).split("/", -1);
        String[] s = path.substring(1).split("/", -1);
        if (prefix ? s.length <= p.length : s.length != p.length) {
            return false;
        }
        for (int i = 0; i < p.length; i++) {
            if (p[i].equals("*") ? s[i].isEmpty() : !p[i].equals(s[i])) {
                return false;
            }
        }
        return true;
    }
}
