package dev.ward.authz.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ward.authz.path.PathNormalizer;
import java.util.List;
import org.junit.jupiter.api.Test;

class PolicyParserTest {

    static final String FULL = """
            service: orders
            version: "7"
            mode: audit
            default: deny
            encodedSlashes: keep
            tokens:
              - issuer: https://auth.example
                jwks: { file: jwks.json }
                audiences: [orders]
            rules:
              - name: frontend-reads-orders
                from: [spiffe://prod.example/ns/shop/sa/frontend, "spiffe://prod.example/ns/ops/*"]
                methods: [GET, HEAD]
                paths: [/orders, /orders/*, /orders/*/items]
                headers: { X-Tenant: acme }
                token: required
            """;

    @Test
    void readsAFullPolicyFromYamlAndTheSameFromJson() throws Exception {
        Policy p = PolicyParser.parse(FULL, "t");
        assertThat(p.service()).isEqualTo("orders");
        assertThat(p.mode()).isEqualTo(Policy.Mode.AUDIT);
        assertThat(p.defaultAllow()).isFalse();
        assertThat(p.encodedSlashes()).isEqualTo(PathNormalizer.SlashAction.KEEP);
        assertThat(p.tokens().get(0).algorithms()).containsExactly("RS256", "ES256", "EdDSA");
        Policy.Rule r = p.rules().get(0);
        assertThat(r.methods()).containsExactlyInAnyOrder("GET", "HEAD");
        assertThat(r.headers()).containsEntry("x-tenant", "acme");
        assertThat(r.token()).isEqualTo(Policy.TokenRequirement.REQUIRED);

        Policy json = PolicyParser.parse("""
                {"service": "orders", "rules": [{"name": "r", "from": ["*"], "methods": ["*"], "paths": ["/*"]}]}
                """, "t.json");
        assertThat(json.rules()).hasSize(1);
        assertThat(json.mode()).isEqualTo(Policy.Mode.ENFORCE);
    }

    @Test
    void listsEveryProblemWithItsLocation() {
        assertThatThrownBy(() -> PolicyParser.parse("""
                service: orders
                mode: strict
                defualt: allow
                tokens:
                  - issuer: https://auth.example
                    jwks: { file: a.json, url: "http://keys" }
                    audiences: []
                    algorithms: [HS256, none]
                rules:
                  - name: r1
                    from: [dns:frontend]
                    methods: [get]
                    paths: [orders, "/a/b*", "/x/../y"]
                  - name: r1
                    from: ["*"]
                    paths: ["/*"]
                    token: sometimes
                  - name: r3
                    from: ["*"]
                    methods: []
                    paths: ["/*"]
                    headers: { authorization: x }
                """, "orders.yaml"))
                .isInstanceOfSatisfying(PolicyException.class, e -> assertThat(e.problems()).containsExactlyInAnyOrder(
                        "defualt: unknown field (expected one of: claimHeaders, default, encodedSlashes, mode, rules, service, tokens, version)",
                        "mode: 'strict' (expected: enforce or audit)",
                        "tokens[0].jwks: give exactly one of file or url",
                        "tokens[0].jwks.url: 'http://keys' (expected: an https:// URL)",
                        "tokens[0].audiences: empty, so nothing could ever match (expected: accepted audiences, e.g. [orders])",
                        "tokens[0].algorithms[0]: 'HS256' is not allowed (expected one of [RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA]; never none or HMAC)",
                        "tokens[0].algorithms[1]: 'none' is not allowed (expected one of [RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA]; never none or HMAC)",
                        "rules[0].from[0]: spiffe id: dns:frontend (expected: scheme spiffe://)",
                        "rules[0].methods[0]: 'get' (expected: an upper-case HTTP method such as GET, or \"*\")",
                        "rules[0].paths[0]: must start with \"/\"",
                        "rules[0].paths[1]: '*' must be a whole segment (\"/a/*/b\" or \"/a/*\"), not part of one",
                        "rules[0].paths[2]: must not contain '.' or '..' segments",
                        "rules[1].methods: required (expected: HTTP methods, e.g. [GET, HEAD], or [\"*\"] for any)",
                        "rules[1].token: 'sometimes' (expected: required, optional or forbidden)",
                        "rules[2].methods: empty, so nothing could ever match (expected: HTTP methods, e.g. [GET, HEAD], or [\"*\"] for any)",
                        "rules[2].headers.authorization: use 'token' to require a bearer token, not a header match"));
    }

    @Test
    void nothingIsAllowedByAccident() {
        // A rule that leaves out its conditions is an error, not "any".
        assertThatThrownBy(() -> PolicyParser.parse("service: s\nrules: [ { name: r, from: ['*'] } ]", "t"))
                .hasMessageContaining("rules[0].methods: required").hasMessageContaining("rules[0].paths: required");
        assertThatThrownBy(() -> PolicyParser.parse("service: s\nrules:\n  - name: r\n    from: ['*']\n    methods: ['*']\n"
                + "    paths: ['/*']\n    token: required\n", "t"))
                .hasMessageContaining("rules[0].token: required, but the policy lists no token issuers");
    }

    @Test
    void refusesDocumentsThatAreNotPolicies() {
        assertThatThrownBy(() -> PolicyParser.parse("", "t")).hasMessageContaining("the document is empty");
        assertThatThrownBy(() -> PolicyParser.parse("[1, 2]", "t")).hasMessageContaining("must be a mapping (found a list)");
        assertThatThrownBy(() -> PolicyParser.parse("service: [", "t")).hasMessageContaining("not valid YAML or JSON at line");
        assertThatThrownBy(() -> PolicyParser.parse("version: 1", "t")).hasMessageContaining("service: required");
    }

    @Test
    void claimHeaders() throws Exception {
        assertThat(PolicyParser.parse("service: s", "t").claimHeaders()).isEqualTo(Policy.DEFAULT_CLAIM_HEADERS);
        assertThat(PolicyParser.parse("service: s\nclaimHeaders: {}", "t").claimHeaders()).isEmpty();
        assertThat(PolicyParser.parse("service: s\nclaimHeaders: { tenant: X-Tenant }", "t").claimHeaders())
                .containsExactly(java.util.Map.entry("tenant", "x-tenant"));
        assertThatThrownBy(() -> PolicyParser.parse("service: s\nclaimHeaders: { sub: authorization, tid: 'x bad' }", "t"))
                .hasMessageContaining("claimHeaders.sub: 'authorization' (expected: a header name starting with x-)")
                .hasMessageContaining("claimHeaders.tid");
    }

    @Test
    void pathPatterns() {
        assertThat(PathPattern.parse("/orders/*").prefix()).isTrue();
        assertThat(PathPattern.parse("/orders/*").segments()).isEqualTo(List.of("orders"));
        assertThat(PathPattern.parse("/a/*/b").segments()).isEqualTo(List.of("a", "*", "b"));
        assertThat(PathPattern.parse("/*").segments()).isEmpty();
    }
}
