package dev.ward.proxy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ward.proxy.tls.IdentityMaterial;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

class WardCliTest {

    @TempDir
    Path tmp;

    private String[] captured = new String[2];

    private int run(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
        try {
            return WardCli.run(args);
        } finally {
            System.setOut(out);
            System.setErr(err);
            captured = new String[] {o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8)};
        }
    }

    @Test
    void certsCaAndIssueWriteALoadableIdentity() throws Exception {
        assertThat(run("certs", "ca", "--trust-domain", "prod.example", "--out", tmp.resolve("ca").toString())).isZero();
        assertThat(run("certs", "issue", "--ca", tmp.resolve("ca").toString(), "--id", "spiffe://prod.example/ns/shop/sa/orders",
                "--out", tmp.resolve("orders").toString(), "--ttl", "2h")).isZero();
        assertThat(captured[0]).contains("issued spiffe://prod.example/ns/shop/sa/orders");
        IdentityMaterial m = IdentityMaterial.load(tmp.resolve("orders/tls.crt"), tmp.resolve("orders/tls.key"),
                tmp.resolve("orders/ca.crt"), Clock.systemUTC());
        assertThat(m.id()).hasToString("spiffe://prod.example/ns/shop/sa/orders");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(tmp.resolve("orders/tls.key")))).isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(tmp.resolve("ca/ca.key")))).isEqualTo("rw-------");
    }

    @Test
    void issueCanAddDnsNamesForHostNameCheckingPeers() throws Exception {
        assertThat(run("certs", "ca", "--trust-domain", "prod.example", "--out", tmp.resolve("ca").toString())).isZero();
        assertThat(run("certs", "issue", "--ca", tmp.resolve("ca").toString(), "--id", "spiffe://prod.example/ns/shop/sa/orders",
                "--dns", "orders.shop.svc", "--dns", "orders", "--out", tmp.resolve("orders").toString())).isZero();
        X509Certificate leaf = (X509Certificate) java.security.cert.CertificateFactory.getInstance("X.509")
                .generateCertificate(Files.newInputStream(tmp.resolve("orders/tls.crt")));
        assertThat(leaf.getSubjectAlternativeNames()).containsExactly(
                List.of(6, "spiffe://prod.example/ns/shop/sa/orders"), List.of(2, "orders.shop.svc"), List.of(2, "orders"));
        // Ward still reads the SPIFFE id from it.
        IdentityMaterial m = IdentityMaterial.load(tmp.resolve("orders/tls.crt"), tmp.resolve("orders/tls.key"),
                tmp.resolve("orders/ca.crt"), Clock.systemUTC());
        assertThat(m.id()).hasToString("spiffe://prod.example/ns/shop/sa/orders");

        assertThat(run("certs", "issue", "--ca", tmp.resolve("ca").toString(), "--id", "spiffe://prod.example/ns/shop/sa/x",
                "--dns", "Bad_Name", "--out", tmp.resolve("x").toString())).isEqualTo(1);
        assertThat(captured[1]).contains("dns name: Bad_Name (expected: a lower-case host name");
        assertThat(tmp.resolve("x/tls.crt")).doesNotExist();
    }

    @Test
    void refusesToOverwriteACaOrToIssueOutsideItsTrustDomain() {
        assertThat(run("certs", "ca", "--trust-domain", "prod.example", "--out", tmp.toString())).isZero();
        assertThat(run("certs", "ca", "--trust-domain", "prod.example", "--out", tmp.toString())).isEqualTo(2);
        assertThat(captured[1]).contains("--force");
        assertThat(run("certs", "issue", "--ca", tmp.toString(), "--id", "spiffe://other.example/x", "--out", tmp.resolve("x").toString()))
                .isEqualTo(1);
        assertThat(captured[1]).contains("trust domain prod.example");
        assertThat(run("certs", "issue", "--ca", tmp.toString(), "--id", "not-a-spiffe-id", "--out", tmp.resolve("x").toString()))
                .isEqualTo(1);
        assertThat(captured[1]).startsWith("ward: spiffe id: not-a-spiffe-id");
    }

    @Test
    void badConfigIsAClearErrorNotAStackTrace() throws Exception {
        Path cfg = Files.writeString(tmp.resolve("sidecar.yaml"), "inbound: { alow: [] }\n");
        assertThat(run("proxy", "--config", cfg.toString())).isEqualTo(2);
        assertThat(captured[1]).contains("inbound.alow: unknown field").doesNotContain("\tat ");
        Path missing = Files.writeString(tmp.resolve("ok.yaml"), "identity: { cert: /nope/tls.crt, key: /nope/tls.key, bundle: /nope/ca.crt }\n");
        assertThat(run("proxy", "--config", missing.toString())).isEqualTo(2);
        assertThat(captured[1]).contains("cannot start: identity: /nope/tls.crt: no such file");
    }

    @Test
    void policyValidateAndExplain() throws Exception {
        Path policy = Files.writeString(tmp.resolve("policy.yaml"), """
                service: orders
                rules:
                  - { name: reads, from: [spiffe://td/ns/shop/sa/frontend], methods: [GET], paths: [/orders/*] }
                """);
        assertThat(run("policy", "validate", policy.toString())).isZero();
        assertThat(captured[0]).contains("ok (service orders, 1 rules");
        Path bad = Files.writeString(tmp.resolve("bad.yaml"), "service: orders\nrules: [ { name: r, from: ['*'] } ]\n");
        assertThat(run("policy", "validate", bad.toString())).isEqualTo(2);
        assertThat(captured[1]).contains("rules[0].methods: required");

        assertThat(run("policy", "explain", "--policy", policy.toString(), "--from", "spiffe://td/ns/shop/sa/frontend",
                "--method", "POST", "--path", "/orders/../orders/1")).isZero();
        assertThat(captured[0]).startsWith("DENY (403) by the policy default: no_matching_rule")
                .contains("normalized path: /orders/1", "close: rule 'reads' failed on methods");
        assertThat(run("policy", "explain", "--policy", policy.toString(), "--from", "spiffe://td/ns/shop/sa/frontend",
                "--path", "/orders/1", "--json")).isZero();
        assertThat(captured[0]).contains("\"decision\" : \"allow\"", "\"rule\" : \"reads\"");
        assertThat(run("policy", "explain", "--policy", policy.toString(), "--from", "not-an-id", "--path", "/x")).isEqualTo(1);
        assertThat(captured[1]).startsWith("ward: from: spiffe id: not-an-id");

        com.nimbusds.jose.jwk.RSAKey key = new com.nimbusds.jose.jwk.gen.RSAKeyGenerator(2048).keyID("k").generate();
        Files.writeString(tmp.resolve("jwks.json"), new com.nimbusds.jose.jwk.JWKSet(key).toPublicJWKSet().toString());
        Path withTokens = Files.writeString(tmp.resolve("tokens.yaml"), """
                service: orders
                tokens: [ { issuer: https://auth.example, jwks: { file: jwks.json }, audiences: [orders] } ]
                rules:
                  - { name: pay, from: [spiffe://td/ns/shop/sa/frontend], methods: [POST], paths: [/pay], token: required }
                """);
        assertThat(run("policy", "explain", "--policy", withTokens.toString(), "--from", "spiffe://td/ns/shop/sa/frontend",
                "--method", "POST", "--path", "/pay", "--token", dev.ward.proxy.testing.Tokens.jwt(key, "orders"))).isZero();
        assertThat(captured[0]).startsWith("ALLOW (200) by rule 'pay'").contains("token: valid (sub alice, iss https://auth.example)");
        assertThat(run("policy", "explain", "--policy", withTokens.toString(), "--from", "spiffe://td/ns/shop/sa/frontend",
                "--method", "POST", "--path", "/pay", "--token", dev.ward.proxy.testing.Tokens.jwt(key, "payments"))).isZero();
        assertThat(captured[0]).startsWith("DENY (401)").contains("token: token_audience");
        assertThat(run("policy", "explain", "--policy", policy.toString(), "--from", "not-an-id", "--path", "/x")).isEqualTo(1);
        assertThat(captured[1]).startsWith("ward: from: spiffe id: not-an-id");
    }

    @Test
    void helpAndVersion() {
        assertThat(run("--help")).isZero();
        assertThat(captured[0]).contains("proxy", "certs", "policy", "demo", "help");
        // `ward proxy ...` adds only that subcommand (start-up): its help and errors stay the same.
        assertThat(run("proxy", "--help")).isZero();
        assertThat(captured[0]).startsWith("Usage: ward proxy").contains("--config");
        assertThat(run("help", "proxy")).isZero();
        assertThat(captured[0]).startsWith("Usage: ward proxy").contains("--config");
        assertThat(run("proxy", "--config", "x.yaml", "--no-such-option")).isEqualTo(2);
        assertThat(captured[1]).contains("Unknown option: '--no-such-option'", "Usage: ward proxy");
        assertThat(run("--version")).isZero();
        assertThat(captured[0]).startsWith("ward ").contains("BoringSSL");
    }

    @ParameterizedTest
    @CsvSource({"io.netty.jfr.enabled, false, true", "io.netty.allocator.type, pooled, adaptive",
        "io.netty.leakDetection.level, disabled, simple"})
    void processDefaultsSetNettysPropertiesUnlessTheCommandLineDid(String name, String ours, String theirs) {
        String before = System.getProperty(name);
        try {
            System.clearProperty(name);
            WardCli.processDefaults();
            assertThat(System.getProperty(name)).isEqualTo(ours);

            System.setProperty(name, theirs);
            WardCli.processDefaults();
            assertThat(System.getProperty(name)).isEqualTo(theirs);
        } finally {
            restore(name, before);
        }
    }

    @Test
    void leakDetectionSetUnderNettysOlderNameIsKept() {
        String before = System.getProperty("io.netty.leakDetection.level");
        try {
            System.clearProperty("io.netty.leakDetection.level");
            System.setProperty("io.netty.leakDetectionLevel", "advanced");
            WardCli.processDefaults();
            assertThat(System.getProperty("io.netty.leakDetection.level")).isNull(); // Netty reads the older one
        } finally {
            System.clearProperty("io.netty.leakDetectionLevel");
            restore("io.netty.leakDetection.level", before);
        }
    }

    private static void restore(String name, String before) {
        if (before == null) {
            System.clearProperty(name);
        } else {
            System.setProperty(name, before);
        }
    }
}
