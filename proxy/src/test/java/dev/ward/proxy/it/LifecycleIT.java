package dev.ward.proxy.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ward.proxy.Sidecar;
import dev.ward.proxy.testing.Await;
import dev.ward.proxy.testing.Clients;
import dev.ward.proxy.testing.InboundFixture;
import dev.ward.proxy.testing.Sidecars;
import dev.ward.proxy.testing.TestApp;
import dev.ward.proxy.testing.TestPki;
import dev.ward.proxy.tls.PeerIdentity;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.ConnectException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Certificate rotation, bad requests, graceful drain and raw TCP mode, through real sockets. */
class LifecycleIT extends InboundFixture {



    private BigInteger servedSerial() throws Exception {
        try (SSLSocket s = Clients.handshake(Clients.mtls(frontendCerts), b.port("inbound"))) {
            return ((X509Certificate) s.getSession().getPeerCertificates()[0]).getSerialNumber();
        }
    }

    @Test
    void rotatesCertificatesUnderTrafficWithoutAFailedRequest() throws Exception {
        startFrontend("h2");
        HttpClient client = Clients.viaProxy(a.port("outbound"));
        BigInteger before = servedSerial();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger ok = new AtomicInteger();
        List<String> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<Future<?>> loops = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            loops.add(pool.submit(() -> {
                while (!stop.get()) {
                    try {
                        HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://orders/echo")).build(),
                                HttpResponse.BodyHandlers.ofString());
                        if (r.statusCode() == 200) {
                            ok.incrementAndGet();
                        } else {
                            failures.add(r.statusCode() + " " + r.body());
                        }
                    } catch (Exception e) {
                        failures.add(e.toString());
                    }
                }
            }));
        }
        Await.until(() -> ok.get() > 50);
        // Rotate both sides (new keys, same identities) while requests flow.
        TestPki.rotate(pki.write("orders-next", pki.ca.issue(TestPki.id("orders"), Duration.ofHours(2))), ordersCerts);
        TestPki.rotate(pki.write("frontend-next", pki.ca.issue(TestPki.id("frontend"), Duration.ofHours(2))), frontendCerts);
        Await.until(() -> !safeSerial().equals(before));
        int atRotation = ok.get();
        Await.until(() -> ok.get() > atRotation + 50);
        stop.set(true);
        for (Future<?> f : loops) {
            f.get();
        }
        pool.shutdown();
        assertThat(failures).isEmpty();
        assertThat(b.tls().material().notAfter()).isAfter(java.time.Instant.now().plus(Duration.ofMinutes(90)));
        assertThat(a.tls().material().notAfter()).isAfter(java.time.Instant.now().plus(Duration.ofMinutes(90)));
    }

    private BigInteger safeSerial() {
        try {
            return servedSerial();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void aBrokenRotationKeepsTheOldIdentity() throws Exception {
        BigInteger before = servedSerial();
        Files.writeString(ordersCerts.resolve("tls.crt"), "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");
        Thread.sleep(500); // five reload intervals
        assertThat(servedSerial()).isEqualTo(before);
        assertThat(request(Clients.mtls(frontendCerts))).isEqualTo("HTTP/1.1 200 OK");
        // A later good rotation is picked up.
        TestPki.rotate(pki.write("orders-good", pki.ca.issue(TestPki.id("orders"), Duration.ofHours(2))), ordersCerts);
        Await.until(() -> !safeSerial().equals(before));
    }

    @Test
    void anEstablishedConnectionOutlivesARotation() throws Exception {
        try (SSLSocket s = Clients.handshake(Clients.mtls(frontendCerts), b.port("inbound"))) {
            BigInteger old = ((X509Certificate) s.getSession().getPeerCertificates()[0]).getSerialNumber();
            TestPki.rotate(pki.write("orders-next", pki.ca.issue(TestPki.id("orders"), Duration.ofHours(2))), ordersCerts);
            Await.until(() -> !safeSerial().equals(old));
            OutputStream out = s.getOutputStream();
            out.write("GET /echo HTTP/1.1\r\nHost: orders\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String r = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
            assertThat(r).startsWith("HTTP/1.1 200 OK");
            assertThat(PeerIdentity.fromSession(s.getSession())).isEqualTo(TestPki.id("orders"));
        }
    }

    private String request(javax.net.ssl.SSLContext ctx) throws IOException {
        return Clients.tlsGet(ctx, b.port("inbound"));
    }

    /** Sends raw bytes to a plain listener and reads until the server closes. */
    private static String raw(int port, String bytes) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(5000);
            s.getOutputStream().write(bytes.getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    @Test
    void malformedRequestsGet400AndTheConnectionClosesAndNothingIsForwarded() throws Exception {
        startFrontend("h2");
        int port = a.port("outbound");
        assertThat(raw(port, "GET /echo HTTP/1.1\r\nHost: orders\r\nContent-Length: abc\r\n\r\n")).startsWith("HTTP/1.1 400 ");
        assertThat(raw(port, "GET /echo HTTP/1.1\r\nHost: orders\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
                .startsWith("HTTP/1.1 400 ");
        assertThat(raw(port, "NOT-HTTP\r\n\r\n")).startsWith("HTTP/1.1 400 ");
        assertThat(raw(port, "GET /echo HTTP/1.1\r\nHost: orders\r\nX-Big: " + "a".repeat(20_000) + "\r\n\r\n"))
                .startsWith("HTTP/1.1 431 ");
        assertThat(raw(port, "GET /" + "a".repeat(10_000) + " HTTP/1.1\r\nHost: orders\r\n\r\n")).startsWith("HTTP/1.1 414 ");
        // Each of those closed its connection: the read above returned because the server closed.
        assertThat(app.requests.get()).isZero();
        // And the same listener still serves a good request.
        assertThat(raw(port, "GET /echo HTTP/1.1\r\nHost: orders\r\nConnection: close\r\n\r\n")).startsWith("HTTP/1.1 200 OK");
    }

    @Test
    void malformedRequestOverMtlsGets400() throws Exception {
        try (SSLSocket s = Clients.handshake(Clients.mtls(frontendCerts), b.port("inbound"))) {
            s.getOutputStream().write("GET /echo HTTP/1.1\r\nHost: orders\r\nContent-Length: -1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            assertThat(new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1)).startsWith("HTTP/1.1 400 ");
        }
        assertThat(app.requests.get()).isZero();
    }

    @Test
    void absoluteFormTargetIsRefusedInbound() throws Exception {
        try (SSLSocket s = Clients.handshake(Clients.mtls(frontendCerts), b.port("inbound"))) {
            s.getOutputStream().write("GET http://orders/echo HTTP/1.1\r\nHost: orders\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            assertThat(new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1))
                    .startsWith("HTTP/1.1 400 ").contains("not_origin_form");
        }
        assertThat(app.requests.get()).isZero();
    }

    @Test
    void gracefulShutdownFinishesInFlightRequestsAndRefusesNewConnections() throws Exception {
        startFrontend("h2");
        HttpClient client = Clients.viaProxy(a.port("outbound"));
        CompletableFuture<HttpResponse<String>> slow = client.sendAsync(
                HttpRequest.newBuilder(URI.create("http://orders/slow?ms=1500")).build(), HttpResponse.BodyHandlers.ofString());
        Await.until(() -> b.inFlight() == 1);
        int inboundPort = b.port("inbound");
        CompletableFuture<Boolean> drained = CompletableFuture.supplyAsync(() -> b.shutdown(Duration.ofSeconds(10)));
        Await.until(() -> {
            try {
                new Socket("127.0.0.1", inboundPort).close();
                return false;
            } catch (IOException e) {
                return e instanceof ConnectException;
            }
        });
        HttpResponse<String> r = slow.get();
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("/slow");
        assertThat(drained.get()).isTrue();
    }

    @Test
    void drainGivesUpAtTheTimeout() throws Exception {
        HttpClient client = Clients.mtlsClient(frontendCerts, HttpClient.Version.HTTP_1_1);
        CompletableFuture<HttpResponse<String>> slow = client.sendAsync(HttpRequest.newBuilder(
                URI.create("https://127.0.0.1:" + b.port("inbound") + "/slow?ms=5000")).build(), HttpResponse.BodyHandlers.ofString());
        Await.until(() -> b.inFlight() == 1);
        long t0 = System.nanoTime();
        assertThat(b.shutdown(Duration.ofMillis(300))).isFalse();
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(4));
        assertThatThrownBy(slow::join).hasCauseInstanceOf(IOException.class);
    }

    @Test
    void tcpModeRelaysBytesForAllowedPeersOnly() throws Exception {
        try (java.net.ServerSocket echo = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            Thread t = new Thread(() -> {
                while (!echo.isClosed()) {
                    try (Socket c = echo.accept()) {
                        InputStream in = c.getInputStream();
                        byte[] buf = new byte[8192];
                        for (int n; (n = in.read(buf)) > 0; ) {
                            c.getOutputStream().write(buf, 0, n);
                        }
                    } catch (IOException ignored) {
                        // next
                    }
                }
            });
            t.setDaemon(true);
            t.start();
            Sidecar tcp = Sidecars.start(Sidecars.identity(pki.issue("db"))
                    + "inbound: { listen: 127.0.0.1:0, app: 127.0.0.1:" + echo.getLocalPort() + ", protocol: tcp, allow: ["
                    + TestPki.id("frontend") + "] }\noutbound: { listen: 127.0.0.1:0 }\n");
            try {
                try (SSLSocket s = Clients.handshake(Clients.mtls(frontendCerts), tcp.port("inbound"))) {
                    byte[] msg = "ping over mtls\n".getBytes(StandardCharsets.US_ASCII);
                    s.getOutputStream().write(msg);
                    s.getOutputStream().flush();
                    assertThat(s.getInputStream().readNBytes(msg.length)).isEqualTo(msg);
                }
                try (SSLSocket s = Clients.handshake(Clients.mtls(pki.issue("intruder")), tcp.port("inbound"))) {
                    s.getOutputStream().write("ping\n".getBytes(StandardCharsets.US_ASCII));
                    s.getOutputStream().flush();
                    assertThat(s.getInputStream().read()).isEqualTo(-1); // closed, nothing relayed
                } catch (IOException expected) {
                    // also fine: reset while writing
                }
            } finally {
                tcp.close();
            }
        }
    }
}
