package dev.ward.proxy.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ward.proxy.Sidecar;
import dev.ward.proxy.testing.Clients;
import dev.ward.proxy.testing.PrometheusServer;
import dev.ward.proxy.testing.Sidecars;
import dev.ward.proxy.testing.TestApp;
import dev.ward.proxy.testing.TestPki;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code /metrics} scraped by a real Prometheus server from two sidecars while allowed, denied
 * and failing requests, a refused handshake and a circuit-breaker trip happen; Prometheus's
 * query API says what it parsed, and {@code promtool check metrics} lints the naming.
 */
class MetricsIT {

    @TempDir
    Path tmp;
    Sidecar a;
    Sidecar b;
    TestApp app;
    PrometheusServer prometheus;

    @AfterEach
    void tearDown() {
        if (prometheus != null) {
            prometheus.close();
        }
        if (a != null) {
            a.close();
        }
        if (b != null) {
            b.close();
        }
        if (app != null) {
            app.close();
        }
    }

    static int closedPort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void prometheusSeesRequestsDeniesHandshakesAndBreakerTrips() throws Exception {
        TestPki pki = new TestPki(tmp.resolve("pki"));
        app = new TestApp();
        Path policy = Files.writeString(tmp.resolve("policy.yaml"), """
                service: orders
                version: "7"
                rules:
                  - name: frontend-reads-orders
                    from: [%s]
                    methods: [GET]
                    paths: [/orders/*]
                """.formatted(TestPki.id("frontend")));
        b = Sidecars.start(Sidecars.identity(pki.issue("orders"))
                + "inbound: { listen: 127.0.0.1:0, app: 127.0.0.1:" + app.port() + " }\n"
                + "outbound: { listen: 127.0.0.1:0 }\npolicy: { file: " + policy + " }\naccessLog: off\n");
        a = Sidecars.start(Sidecars.identity(pki.issue("frontend")) + """
                inbound: { enabled: false }
                accessLog: off
                outbound:
                  listen: 127.0.0.1:0
                  upstreams:
                    orders: { address: 127.0.0.1:%d, identity: %s, listen: 127.0.0.1:0 }
                    broken:
                      address: 127.0.0.1:%d
                      identity: %s
                      listen: 127.0.0.1:0
                      retry: { attempts: 0 }
                      circuitBreaker: { slidingWindowSize: 2, minimumCalls: 2, openFor: 1m }
                """.formatted(b.port("inbound"), TestPki.id("orders"), closedPort(), TestPki.id("orders")));
        prometheus = PrometheusServer.start(tmp, Map.of("frontend", a.port("admin"), "orders", b.port("admin")));

        for (int i = 0; i < 3; i++) {
            assertThat(get(a.port("upstream:orders"), "/orders/" + i).statusCode()).isEqualTo(200);
        }
        for (int i = 0; i < 2; i++) {
            assertThat(get(a.port("upstream:orders"), "/admin").statusCode()).isEqualTo(403);
        }
        assertThat(get(a.port("upstream:broken"), "/x").statusCode()).isEqualTo(502);
        assertThat(get(a.port("upstream:broken"), "/x").statusCode()).isEqualTo(502);
        HttpResponse<String> open = get(a.port("upstream:broken"), "/x");
        assertThat(open.statusCode()).isEqualTo(503);
        assertThat(open.headers().firstValue("x-ward-reason")).hasValue("circuit_open");
        // A caller whose certificate is from another CA: refused, counted.
        TestPki stranger = new TestPki(tmp.resolve("stranger"));
        try {
            Clients.handshake(Clients.mtls(stranger.issue("frontend")), b.port("inbound")).close();
        } catch (java.io.IOException refused) {
            // expected
        }

        prometheus.await("ward_inbound_requests_total{job='orders',method='GET',status_class='2xx',service='orders'}", v -> v == 3);
        prometheus.await("ward_inbound_requests_total{job='orders',status_class='4xx'}", v -> v == 2);
        prometheus.await("ward_authz_decisions_total{job='orders',result='allow',rule='frontend-reads-orders',reason='allowed'}", v -> v == 3);
        prometheus.await("ward_authz_decisions_total{job='orders',result='deny',reason='no_matching_rule'}", v -> v == 2);
        prometheus.await("ward_inbound_request_duration_seconds_count{job='orders',status_class='2xx'}", v -> v == 3);
        prometheus.await("ward_outbound_requests_total{job='frontend',upstream='orders',status_class='2xx'}", v -> v == 3);
        prometheus.await("ward_outbound_requests_total{job='frontend',upstream='orders',status_class='4xx'}", v -> v == 2);
        prometheus.await("ward_outbound_requests_total{job='frontend',upstream='broken',status_class='5xx'}", v -> v == 3);
        prometheus.await("ward_circuit_breaker_state{job='frontend',upstream='broken',state='open'}", v -> v == 1);
        prometheus.await("ward_circuit_breaker_state{job='frontend',upstream='orders',state='closed'}", v -> v == 1);
        prometheus.await("ward_upstream_rejected_requests_total{job='frontend',upstream='broken',reason='circuit_open'}", v -> v == 1);
        prometheus.await("ward_tls_handshakes_total{job='orders',direction='inbound'}", v -> v >= 1);
        prometheus.await("ward_tls_handshakes_total{job='frontend',direction='outbound'}", v -> v >= 1);
        prometheus.await("sum(ward_tls_handshake_failures_total{job='orders',direction='inbound'})", v -> v >= 1);
        prometheus.await("ward_certificate_expiry_timestamp_seconds{job='orders',certificate='leaf'} - time()", v -> v > 600 && v < 2 * 86400); // test leaves live 1 h
        prometheus.await("ward_certificate_expiry_timestamp_seconds{job='orders',certificate='bundle'} - time()", v -> v > 600);
        prometheus.await("ward_policy_info{job='orders',service='orders',version='7'}", v -> v == 1);
        prometheus.await("ward_connections_active{job='frontend',listener='upstream:orders'}", v -> v >= 0);
        prometheus.await("ward_upstream_connections_active{job='frontend',upstream='orders'}", v -> v >= 1);
        prometheus.await("ward_build_info{job='orders'}", v -> v == 1);
        assertThat(prometheus.targets()).doesNotContain("\"health\":\"down\"");

        for (Sidecar s : new Sidecar[] {a, b}) {
            String exposition = Clients.plain().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + s.port("admin") + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
            assertThat(PrometheusServer.lint(exposition)).as("promtool check metrics").isEmpty();
        }
    }

    static HttpResponse<String> get(int port, String path) throws Exception {
        return Clients.plain().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
