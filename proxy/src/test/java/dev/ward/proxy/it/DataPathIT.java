package dev.ward.proxy.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ward.proxy.Sidecar;
import dev.ward.proxy.testing.Clients;
import dev.ward.proxy.testing.InboundFixture;
import dev.ward.proxy.testing.Sidecars;
import dev.ward.proxy.testing.TestApp;
import dev.ward.proxy.testing.TestPki;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * App A → sidecar A (outbound) → mTLS → sidecar B (inbound) → app B, all real sockets on
 * loopback, each case over HTTP/1.1 and HTTP/2 between the sidecars.
 */
class DataPathIT extends InboundFixture {



    private HttpClient startA(String protocol) throws Exception {
        return Clients.viaProxy(startFrontend(protocol).port("outbound"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"h2", "http1"})
    void forwardsThroughBothSidecarsAndTellsTheAppWhoCalled(String protocol) throws Exception {
        HttpClient client = startA(protocol);
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://orders/echo/1?x=y"))
                .header("x-ward-peer-identity", "spiffe://test.ward/ns/test/sa/forged").build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("hello " + TestPki.id("frontend") + " GET /echo/1?x=y");
        assertThat(app.lastHeaders.get().get("x-ward-peer-identity")).containsExactly(TestPki.id("frontend").toString());
        assertThat(app.lastHeaders.get().getFirst("x-forwarded-client-cert"))
                .isEqualTo("By=" + TestPki.id("orders") + ";URI=" + TestPki.id("frontend"));
    }

    @Test
    void perUpstreamPortRoutesWithoutAHostMatch() throws Exception {
        startA("h2");
        HttpResponse<String> r = Clients.plain().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + a.port("upstream:orders") + "/echo")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).startsWith("hello " + TestPki.id("frontend"));
    }

    @Test
    void unknownHostGets404AndNothingIsSent() throws Exception {
        HttpClient client = startA("h2");
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://payments/x")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(404);
        assertThat(r.headers().firstValue("x-ward-reason")).hasValue("no_route");
        assertThat(app.requests.get()).isZero();
    }

    @Test
    void http2BetweenSidecarsMultiplexesConcurrentRequestsOnOneConnection() throws Exception {
        HttpClient client = startA("h2");
        List<CompletableFuture<HttpResponse<String>>> calls = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            calls.add(client.sendAsync(HttpRequest.newBuilder(URI.create("http://orders/slow?ms=200")).build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        for (var c : calls) {
            assertThat(c.get().statusCode()).isEqualTo(200);
        }
        // Pools are per event loop (no cross-thread hand-offs): at most one h2 connection per worker.
        assertThat(b.openConnections("inbound")).isBetween(1, a.config().workers());
    }

    @Test
    void http1BetweenSidecarsUsesOneConnectionPerConcurrentRequest() throws Exception {
        HttpClient client = startA("http1");
        List<CompletableFuture<HttpResponse<String>>> calls = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            calls.add(client.sendAsync(HttpRequest.newBuilder(URI.create("http://orders/slow?ms=500")).build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        for (var c : calls) {
            assertThat(c.get().statusCode()).isEqualTo(200);
        }
        assertThat(b.openConnections("inbound")).isGreaterThan(a.config().workers());
    }

    @ParameterizedTest
    @ValueSource(strings = {"h2", "http1"})
    void reusesKeepAliveConnectionsOnEveryHop(String protocol) throws Exception {
        HttpClient client = startA(protocol);
        for (int i = 0; i < 10; i++) {
            assertThat(client.send(HttpRequest.newBuilder(URI.create("http://orders/echo/" + i)).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
        }
        assertThat(app.requests.get()).isEqualTo(10);
        assertThat(app.clientPorts).hasSize(1);               // inbound sidecar → app: one pooled connection
        assertThat(b.openConnections("inbound")).isEqualTo(1); // sidecar A → sidecar B: one connection
    }

    @ParameterizedTest
    @ValueSource(strings = {"h2", "http1"})
    void streamsA100MiBUploadAndDownloadWithBoundedMemory(String protocol) throws Exception {
        // The ITs run with -Xmx256m (see the pom): buffering 100 MiB on two hops would not fit.
        HttpClient client = startA(protocol);
        long size = Long.getLong("it.size", 100L * 1024 * 1024);
        MessageDigest sent = TestApp.sha256();
        HttpRequest up = HttpRequest.newBuilder(URI.create("http://orders/upload"))
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new PatternStream(size, sent))).build();
        HttpResponse<String> r = client.send(up, HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).isEqualTo(size + " " + HexFormat.of().formatHex(sent.digest()));

        HttpResponse<InputStream> down = client.send(HttpRequest.newBuilder(URI.create("http://orders/download?bytes=" + size)).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertThat(down.statusCode()).isEqualTo(200);
        long n = 0;
        try (InputStream in = down.body()) {
            byte[] buf = new byte[64 * 1024];
            for (int k; (k = in.read(buf)) > 0; ) {
                n += k;
            }
        }
        assertThat(n).isEqualTo(size);
    }

    @Test
    void directHttp2ClientWithACertificateIsServedOverH2() throws Exception {
        HttpClient client = Clients.mtlsClient(frontendCerts, HttpClient.Version.HTTP_2);
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + b.port("inbound") + "/echo"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).startsWith("hello " + TestPki.id("frontend"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"HTTP_2", "HTTP_1_1"})
    void callerNotOnTheAllowListGets403AndTheAppSeesNothing(String version) throws Exception {
        HttpClient client = Clients.mtlsClient(pki.issue("intruder"), HttpClient.Version.valueOf(version));
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + b.port("inbound") + "/echo"))
                .POST(HttpRequest.BodyPublishers.ofString("payload")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(403);
        assertThat(r.headers().firstValue("x-ward-reason")).hasValue("identity_not_allowed");
        assertThat(r.body()).contains("\"error\":\"identity_not_allowed\"").doesNotContain("frontend");
        assertThat(app.requests.get()).isZero();
    }

    @Test
    void upstreamWithTheWrongIdentityIsRefusedWith502AndNeverUsed() throws Exception {
        // Sidecar A expects "payments" at B's address, but B proves it is "orders".
        a = Sidecars.outbound(frontendCerts, b.port("inbound"), TestPki.id("payments"), "h2");
        HttpResponse<String> r = Clients.viaProxy(a.port("outbound")).send(
                HttpRequest.newBuilder(URI.create("http://orders/echo")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(502);
        assertThat(r.headers().firstValue("x-ward-reason")).hasValue("upstream_identity_mismatch");
        assertThat(app.requests.get()).isZero();
    }

    @Test
    void unreachableUpstreamGets502() throws Exception {
        int closedPort;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        a = Sidecars.outbound(frontendCerts, closedPort, TestPki.id("orders"), "h2");
        HttpResponse<String> r = Clients.viaProxy(a.port("outbound")).send(
                HttpRequest.newBuilder(URI.create("http://orders/echo")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(502);
        assertThat(r.headers().firstValue("x-ward-reason")).hasValue("upstream_unavailable");
        assertThat(r.body()).contains("connection refused");
    }

    @Test
    void appDownGets502FromTheInboundSidecar() throws Exception {
        app.close();
        HttpClient client = startA("h2");
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://orders/echo")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(502);
        assertThat(r.headers().firstValue("x-ward-reason")).hasValue("app_unavailable");
    }

    /** Deterministic bytes, digested as they are read. */
    static final class PatternStream extends InputStream {
        private long left;
        private final MessageDigest digest;
        private int i;

        PatternStream(long size, MessageDigest digest) {
            this.left = size;
            this.digest = digest;
        }

        @Override
        public int read() {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            if (left <= 0) {
                return -1;
            }
            int n = (int) Math.min(len, left);
            for (int k = 0; k < n; k++) {
                b[off + k] = (byte) (i++ * 31);
            }
            digest.update(b, off, n);
            left -= n;
            return n;
        }
    }
}
