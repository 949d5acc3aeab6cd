package dev.ward.proxy.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ward.proxy.Sidecar;
import dev.ward.proxy.testing.Clients;
import dev.ward.proxy.testing.Sidecars;
import dev.ward.proxy.testing.TestApp;
import dev.ward.proxy.testing.TestPki;
import dev.ward.proxy.testing.Tokens;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Authorization through a live sidecar with a policy file, with real mTLS clients. */
class AuthzIT {

    static final String POLICY = """
            service: orders
            version: "1"
            rules:
              - name: frontend-reads-orders
                from: [%s]
                methods: [GET]
                paths: [/orders, /orders/*]
              - name: anyone-public
                from: ["*"]
                methods: [GET]
                paths: [/public/*]
            """;

    @TempDir
    Path tmp;

    TestPki pki;
    TestApp app;
    Sidecar b;
    Path policyFile;
    final ByteArrayOutputStream stdout = new ByteArrayOutputStream();
    PrintStream realOut;

    @BeforeEach
    void setUp() throws Exception {
        realOut = System.out;
        System.setOut(new PrintStream(stdout, true, StandardCharsets.UTF_8)); // the audit log goes to stdout
        pki = new TestPki(tmp);
        app = new TestApp();
        policyFile = Files.writeString(tmp.resolve("policy.yaml"), POLICY.formatted(TestPki.id("frontend")));
        b = Sidecars.start(Sidecars.identity(pki.issue("orders"))
                + "inbound: { listen: 127.0.0.1:0, app: 127.0.0.1:" + app.port() + " }\n"
                + "outbound: { listen: 127.0.0.1:0 }\n"
                + "policy: { file: " + policyFile + ", reloadInterval: 100ms }\naccessLog: all\n");
    }

    @AfterEach
    void tearDown() {
        b.close();
        app.close();
        System.setOut(realOut);
    }

    private String audit() {
        return stdout.toString(StandardCharsets.UTF_8);
    }

    private HttpResponse<String> get(Path certs, HttpClient.Version v, String path) throws Exception {
        return Clients.mtlsClient(certs, v).send(HttpRequest.newBuilder(
                URI.create("https://127.0.0.1:" + b.port("inbound") + path)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @ParameterizedTest
    @ValueSource(strings = {"HTTP_1_1", "HTTP_2"})
    void allowsByRuleAndDeniesByIdentityAndByPath(String version) throws Exception {
        HttpClient.Version v = HttpClient.Version.valueOf(version);
        Path frontend = pki.issue("frontend");
        Path intruder = pki.issue("intruder");
        assertThat(get(frontend, v, "/orders/7").statusCode()).isEqualTo(200);
        assertThat(get(intruder, v, "/public/x").statusCode()).isEqualTo(200);
        assertThat(app.requests.get()).isEqualTo(2);

        HttpResponse<String> byIdentity = get(intruder, v, "/orders/7");
        assertThat(byIdentity.statusCode()).isEqualTo(403);
        assertThat(byIdentity.body()).isEqualTo("{\"error\":\"identity_not_allowed\",\"message\":\"the service's policy does not allow this request\"}\n");
        HttpResponse<String> byPath = Clients.mtlsClient(frontend, v).send(HttpRequest.newBuilder(
                URI.create("https://127.0.0.1:" + b.port("inbound") + "/admin"))
                .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").build(), HttpResponse.BodyHandlers.ofString());
        assertThat(byPath.statusCode()).isEqualTo(403);
        assertThat(byPath.headers().firstValue("x-ward-reason")).hasValue("no_matching_rule");
        assertThat(app.requests.get()).isEqualTo(2); // the app saw neither deny
        assertThat(audit()).contains("\"event\":\"deny\"", "\"peer\":\"" + TestPki.id("intruder") + "\"", "\"path\":\"/admin\"",
                "\"reason\":\"no_matching_rule\"", "\"policy_version\":\"1\"", "\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\"");
        // accessLog: all logs allowed requests with the rule that allowed them
        assertThat(audit()).contains("\"path\":\"/orders/7\",\"status\":200").contains("\"rule\":\"frontend-reads-orders\"");
    }

    @Test
    void knownBypassesNeverReachTheAppAndTheAppGetsTheNormalizedPath() throws Exception {
        SSLContext intruder = Clients.mtls(pki.issue("intruder"));
        int port = b.port("inbound");
        assertThat(Clients.tlsRequest(intruder, port, "GET", "/public/../orders/7")).startsWith("HTTP/1.1 403");
        assertThat(Clients.tlsRequest(intruder, port, "GET", "/public/%2e%2e/orders/7")).startsWith("HTTP/1.1 403");
        assertThat(Clients.tlsRequest(intruder, port, "GET", "//orders/7")).startsWith("HTTP/1.1 403");
        assertThat(Clients.tlsRequest(intruder, port, "GET", "/public/x;/../../orders/7")).startsWith("HTTP/1.1 400");
        assertThat(Clients.tlsRequest(intruder, port, "GET", "/public/..%2forders/7")).startsWith("HTTP/1.1 400");
        assertThat(app.requests.get()).isZero();

        assertThat(Clients.tlsRequest(intruder, port, "GET", "/public/a/./b//c/../d?x=%2e")).startsWith("HTTP/1.1 200");
        assertThat(app.lastPath.get()).isEqualTo("/public/a/b/d");
    }

    @Test
    void auditModeAllowsAndRecordsWhatWouldHaveBeenDenied() throws Exception {
        Files.writeString(policyFile, "mode: audit\n" + POLICY.formatted(TestPki.id("frontend")));
        awaitPolicy("\"policy_loaded\"", 2);
        assertThat(get(pki.issue("intruder"), HttpClient.Version.HTTP_1_1, "/orders/7").statusCode()).isEqualTo(200);
        assertThat(audit()).contains("\"event\":\"audit_would_deny\"", "\"reason\":\"identity_not_allowed\"");
    }

    private void awaitPolicy(String marker, int times) throws InterruptedException {
        for (int i = 0; i < 100 && count(audit(), marker) < times; i++) {
            Thread.sleep(50);
        }
        assertThat(count(audit(), marker)).isGreaterThanOrEqualTo(times);
    }

    private static int count(String s, String what) {
        return s.split(java.util.regex.Pattern.quote(what), -1).length - 1;
    }

    @Test
    void policyReloadUnderTrafficSwapsAtomicallyAndRefusesABadVersion() throws Exception {
        HttpClient client = Clients.mtlsClient(pki.issue("frontend"), HttpClient.Version.HTTP_2);
        URI orders = URI.create("https://127.0.0.1:" + b.port("inbound") + "/orders/7");
        List<String> unexpected = Collections.synchronizedList(new ArrayList<>());
        AtomicBoolean stop = new AtomicBoolean();
        Thread load = new Thread(() -> {
            while (!stop.get()) {
                try {
                    int s = client.send(HttpRequest.newBuilder(orders).build(), HttpResponse.BodyHandlers.ofString()).statusCode();
                    if (s != 200 && s != 403) {
                        unexpected.add("status " + s);
                    }
                } catch (Exception e) {
                    unexpected.add(e.toString()); // a reset or closed connection: never acceptable
                }
            }
        });
        load.start();
        try {
            // A broken version is refused; the policy in force stays.
            Files.writeString(policyFile, "service: orders\nrules: [ { name: x, from: [nope] } ]\n");
            awaitPolicy("\"policy_refused\"", 1);
            assertThat(client.send(HttpRequest.newBuilder(orders).build(), HttpResponse.BodyHandlers.ofString()).statusCode())
                    .isEqualTo(200);
            String status = Clients.plain().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + b.port("admin") + "/policy"))
                    .build(), HttpResponse.BodyHandlers.ofString()).body();
            assertThat(status).contains("\"version\" : \"1\"", "lastRefusedChange", "rules[0].from[0]");

            // A valid version that no longer lets frontend read orders takes over on the same connections.
            Files.writeString(policyFile, POLICY.formatted(TestPki.id("frontend")).replace("version: \"1\"", "version: \"2\"")
                    .replace("paths: [/orders, /orders/*]", "paths: [/orders]"));
            awaitPolicy("\"policy_loaded\"", 2);
            for (int i = 0; i < 100 && client.send(HttpRequest.newBuilder(orders).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode() != 403; i++) {
                Thread.sleep(20);
            }
            assertThat(client.send(HttpRequest.newBuilder(orders).build(), HttpResponse.BodyHandlers.ofString()).statusCode())
                    .isEqualTo(403);
        } finally {
            stop.set(true);
            load.join();
        }
        assertThat(unexpected).isEmpty();
    }

    @Test
    void bearerTokensAreVerifiedAndTheirClaimsReachTheApp() throws Exception {
        com.nimbusds.jose.jwk.RSAKey key = new com.nimbusds.jose.jwk.gen.RSAKeyGenerator(2048).keyID("k1").generate();
        Path jwks = Files.writeString(tmp.resolve("jwks.json"), new com.nimbusds.jose.jwk.JWKSet(key).toPublicJWKSet().toString());
        Files.writeString(policyFile, """
                service: orders
                version: "tokens"
                claimHeaders: { sub: x-ward-jwt-sub, iss: x-ward-jwt-iss, scope: x-scope }
                tokens:
                  - { issuer: https://auth.example, jwks: { file: %s }, audiences: [orders] }
                rules:
                  - name: pay-with-token
                    from: [%s]
                    methods: [GET]
                    paths: [/pay]
                    token: required
                """.formatted(jwks, TestPki.id("frontend")));
        awaitPolicy("\"policy_loaded\"", 2);
        HttpClient client = Clients.mtlsClient(pki.issue("frontend"), HttpClient.Version.HTTP_2);
        URI pay = URI.create("https://127.0.0.1:" + b.port("inbound") + "/pay");

        HttpResponse<String> missing = client.send(HttpRequest.newBuilder(pay).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(missing.statusCode()).isEqualTo(401);
        assertThat(missing.headers().firstValue("www-authenticate")).hasValue("Bearer realm=\"orders\"");
        assertThat(missing.headers().firstValue("x-ward-reason")).hasValue("token_missing");

        HttpResponse<String> ok = client.send(HttpRequest.newBuilder(pay).header("Authorization", "Bearer " + Tokens.jwt(key, "orders"))
                .header("x-ward-jwt-sub", "mallory").build(), HttpResponse.BodyHandlers.ofString());
        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(app.lastHeaders.get().get("x-ward-jwt-sub")).containsExactly("alice");
        assertThat(app.lastHeaders.get().getFirst("x-ward-jwt-iss")).isEqualTo("https://auth.example");
        assertThat(app.lastHeaders.get().getFirst("x-scope")).isEqualTo("read,write");

        // The same token again, over HTTP/2 and HTTP/1.1 (each decoder's header bytes): answered from
        // the cache; one character of its signature changed is not that token, and fails.
        String token = Tokens.jwt(key, "orders");
        HttpClient http1 = Clients.mtlsClient(pki.issue("frontend"), HttpClient.Version.HTTP_1_1);
        for (HttpClient c : List.of(client, client, http1, http1)) {
            HttpResponse<String> again = c.send(HttpRequest.newBuilder(pay).header("Authorization", "bearer  " + token).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(again.statusCode()).isEqualTo(200);
            assertThat(app.lastHeaders.get().get("x-ward-jwt-sub")).containsExactly("alice");
        }
        // Tokens of two callers in turn: each request carries its own token's claims (a character
        // outside Latin-1 goes as '?', as a string header always went).
        String bob = Tokens.jwt(key, "orders", "https://auth.example", "bob", "caf\u00e9 \u65e5");
        for (String t : List.of(bob, token, bob)) {
            assertThat(client.send(HttpRequest.newBuilder(pay).header("Authorization", "Bearer " + t).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
            boolean isBob = t.equals(bob);
            assertThat(app.lastHeaders.get().get("x-ward-jwt-sub")).containsExactly(isBob ? "bob" : "alice");
            assertThat(app.lastHeaders.get().get("x-scope")).containsExactly(isBob ? "caf\u00e9 ?" : "read,write");
        }
        // A claim that is no header value (it starts with a space) is left out; the request goes on.
        HttpResponse<String> padded = client.send(HttpRequest.newBuilder(pay).header("Authorization", "Bearer "
                + Tokens.jwt(key, "orders", "https://auth.example", "carol", " padded")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(padded.statusCode()).isEqualTo(200);
        assertThat(app.lastHeaders.get().get("x-ward-jwt-sub")).containsExactly("carol");
        assertThat(app.lastHeaders.get().containsKey("x-scope")).isFalse();
        char last = token.charAt(token.length() - 2);
        String forged = token.substring(0, token.length() - 2) + (last == 'A' ? 'B' : 'A') + token.charAt(token.length() - 1);
        for (HttpClient c : List.of(client, http1)) {
            HttpResponse<String> bad = c.send(HttpRequest.newBuilder(pay).header("Authorization", "Bearer " + forged).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(bad.statusCode()).isEqualTo(401);
            assertThat(bad.headers().firstValue("x-ward-reason")).hasValue("token_signature");
            HttpResponse<String> twice = c.send(HttpRequest.newBuilder(pay).header("Authorization", "Bearer " + token)
                    .header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(twice.statusCode()).isEqualTo(401);
            assertThat(twice.headers().firstValue("x-ward-reason")).hasValue("token_ambiguous");
        }

        HttpResponse<String> otherIssuer = client.send(HttpRequest.newBuilder(pay)
                .header("Authorization", "Bearer " + Tokens.jwt(key, "orders", "https://evil.example")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(otherIssuer.statusCode()).isEqualTo(401);
        assertThat(otherIssuer.headers().firstValue("x-ward-reason")).hasValue("token_issuer");

        HttpResponse<String> wrongAud = client.send(HttpRequest.newBuilder(pay).header("Authorization", "Bearer " + Tokens.jwt(key, "payments"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(wrongAud.statusCode()).isEqualTo(401);
        assertThat(wrongAud.headers().firstValue("www-authenticate")).hasValue("Bearer realm=\"orders\", error=\"invalid_token\"");
        assertThat(wrongAud.headers().firstValue("x-ward-reason")).hasValue("token_audience");

        com.nimbusds.jose.jwk.RSAKey stranger = new com.nimbusds.jose.jwk.gen.RSAKeyGenerator(2048).keyID("k2").generate();
        assertThat(client.send(HttpRequest.newBuilder(pay).header("Authorization", "Bearer " + Tokens.jwt(stranger, "orders")).build(),
                HttpResponse.BodyHandlers.ofString()).headers().firstValue("x-ward-reason")).hasValue("token_signature");
        // The issuer rotates: k2 published, k1 withdrawn.
        Files.writeString(jwks, new com.nimbusds.jose.jwk.JWKSet(stranger).toPublicJWKSet().toString());
        String oldToken = Tokens.jwt(key, "orders");
        for (int i = 0; i < 100 && client.send(HttpRequest.newBuilder(pay).header("Authorization", "Bearer " + Tokens.jwt(stranger, "orders"))
                .build(), HttpResponse.BodyHandlers.ofString()).statusCode() != 200; i++) {
            Thread.sleep(50);
        }
        assertThat(client.send(HttpRequest.newBuilder(pay).header("Authorization", "Bearer " + Tokens.jwt(stranger, "orders")).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
        assertThat(client.send(HttpRequest.newBuilder(pay).header("Authorization", "Bearer " + oldToken).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(401);
        assertThat(audit()).contains("\"reason\":\"token_missing\"", "\"reason\":\"token_audience\"").doesNotContain(oldToken);
    }

    @Test
    void adminExplainsWithoutSending() throws Exception {
        URI explain = URI.create("http://127.0.0.1:" + b.port("admin") + "/explain");
        HttpResponse<String> r = Clients.plain().send(HttpRequest.newBuilder(explain).POST(HttpRequest.BodyPublishers.ofString(
                "{\"from\": \"" + TestPki.id("intruder") + "\", \"method\": \"GET\", \"path\": \"/public/../orders/7\"}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("\"decision\" : \"deny\"", "\"normalizedPath\" : \"/orders/7\"",
                "\"reason\" : \"identity_not_allowed\"", "\"rule\" : \"frontend-reads-orders\"", "\"from\"");
        assertThat(app.requests.get()).isZero();
        HttpResponse<String> bad = Clients.plain().send(HttpRequest.newBuilder(explain).POST(HttpRequest.BodyPublishers.ofString(
                "{\"from\": \"nope\", \"path\": \"/x\"}")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(bad.body()).contains("bad_question", "from: spiffe id: nope");
    }

    @Test
    void aPolicyWhoseKeysCannotBeLoadedIsAStartupError() throws Exception {
        Path withUrl = Files.writeString(tmp.resolve("tokens.yaml"), """
                service: orders
                tokens:
                  - { issuer: https://auth.example, jwks: { url: "https://auth.example/jwks", ca: nope.pem }, audiences: [orders] }
                  - { issuer: https://other.example, jwks: { file: missing.json }, audiences: [orders] }
                rules: []
                """);
        assertThatThrownBy(() -> Sidecars.start(Sidecars.identity(pki.issue("x"))
                + "inbound: { listen: 127.0.0.1:0 }\noutbound: { listen: 127.0.0.1:0 }\npolicy: { file: " + withUrl + " }\n"))
                .isInstanceOf(Sidecar.StartupException.class)
                .hasMessageContaining("tokens[0].jwks.ca: " + tmp.resolve("nope.pem") + ": no such file")
                .hasMessageContaining("tokens[1].jwks.file: " + tmp.resolve("missing.json") + ": no such file");
        Path bad = Files.writeString(tmp.resolve("bad.yaml"), "service: orders\nrules: [ { name: r } ]\n");
        assertThatThrownBy(() -> Sidecars.start(Sidecars.identity(pki.issue("y"))
                + "inbound: { listen: 127.0.0.1:0 }\noutbound: { listen: 127.0.0.1:0 }\npolicy: { file: " + bad + " }\n"))
                .hasMessageContaining("rules[0].from: required").hasMessageContaining("rules[0].paths: required");
    }
}
