package dev.ward.proxy.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ward.proxy.Sidecar;
import dev.ward.proxy.testing.Clients;
import dev.ward.proxy.testing.Sidecars;
import dev.ward.proxy.testing.TestApp;
import dev.ward.proxy.testing.TestPki;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A sidecar must not add failures of its own: requests that were provably not processed are sent again, once. */
class RetryIT {

    @TempDir
    Path tmp;

    /**
     * An app that answers the first request on each connection with keep-alive and then closes the
     * connection when the second request arrives, without answering: the keep-alive race, made certain.
     */
    static final class FlakyApp implements AutoCloseable {
        final ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        final AtomicInteger connections = new AtomicInteger();
        final AtomicInteger answered = new AtomicInteger();

        FlakyApp() throws IOException {
            Thread t = new Thread(() -> {
                while (!server.isClosed()) {
                    try {
                        Socket c = server.accept();
                        connections.incrementAndGet();
                        Thread h = new Thread(() -> serve(c));
                        h.setDaemon(true);
                        h.start();
                    } catch (IOException closed) {
                        return;
                    }
                }
            });
            t.setDaemon(true);
            t.start();
        }

        private void serve(Socket c) {
            try (c) {
                InputStream in = c.getInputStream();
                readHead(in);
                c.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".getBytes(StandardCharsets.US_ASCII));
                c.getOutputStream().flush();
                answered.incrementAndGet();
                in.read(); // the next request begins: drop the connection unanswered
            } catch (IOException ignored) {
                // done
            }
        }

        private static void readHead(InputStream in) throws IOException {
            int state = 0;
            for (int b; (b = in.read()) >= 0; ) {
                state = (b == '\r' || b == '\n') ? state + 1 : 0;
                if (state == 4) {
                    return;
                }
            }
        }

        int port() {
            return server.getLocalPort();
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }

    @Test
    void aGetOnAConnectionTheAppJustClosedIsSentAgainButAPostIsNot() throws Exception {
        TestPki pki = new TestPki(tmp);
        try (FlakyApp app = new FlakyApp()) {
            Sidecar b = Sidecars.inbound(pki.issue("orders"), app.port(), "workers: 1\n", TestPki.id("frontend"));
            try {
                HttpClient client = Clients.mtlsClient(pki.issue("frontend"), HttpClient.Version.HTTP_2);
                URI uri = URI.create("https://127.0.0.1:" + b.port("inbound") + "/x");
                assertThat(client.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString()).statusCode())
                        .isEqualTo(200);
                // The pooled connection is dead on arrival; the GET is retried on a new one.
                HttpResponse<String> second = client.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(second.statusCode()).isEqualTo(200);
                assertThat(app.connections.get()).isEqualTo(2);
                // A POST with a body is never sent twice: the caller sees the failure.
                HttpResponse<String> post = client.send(HttpRequest.newBuilder(uri).POST(HttpRequest.BodyPublishers.ofString("pay"))
                        .build(), HttpResponse.BodyHandlers.ofString());
                assertThat(post.statusCode()).isEqualTo(502);
                assertThat(post.headers().firstValue("x-ward-reason")).hasValue("upstream_reset");
                assertThat(app.connections.get()).isEqualTo(2);
                assertThat(app.answered.get()).isEqualTo(2);
            } finally {
                b.close();
            }
        }
    }

    @Test
    void aStreamRefusedByADrainingPeerGoesToItsReplacement() throws Exception {
        TestPki pki = new TestPki(tmp);
        Path orders = pki.issue("orders");
        try (TestApp app = new TestApp()) {
            int port;
            try (ServerSocket s = new ServerSocket(0)) {
                port = s.getLocalPort();
            }
            String inbound = Sidecars.identity(orders) + "inbound: { listen: 127.0.0.1:" + port + ", app: 127.0.0.1:" + app.port()
                    + ", allow: [" + TestPki.id("frontend") + "] }\noutbound: { listen: 127.0.0.1:0 }\n";
            Sidecar b = Sidecars.start(inbound);
            // One worker: every request shares one h2 connection, so the new one meets the draining peer.
            Sidecar a = Sidecars.outbound(pki.issue("frontend"), port, TestPki.id("orders"), "h2", "workers: 1\n");
            Sidecar replacement = null;
            try {
                HttpClient client = Clients.viaProxy(a.port("outbound"));
                assertThat(client.send(HttpRequest.newBuilder(URI.create("http://orders/warm")).build(),
                        HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
                CompletableFuture<HttpResponse<String>> slow = client.sendAsync(
                        HttpRequest.newBuilder(URI.create("http://orders/slow?ms=2000")).build(), HttpResponse.BodyHandlers.ofString());
                for (int i = 0; i < 200 && b.inFlight() == 0; i++) {
                    Thread.sleep(10);
                }
                CompletableFuture<Boolean> drained = CompletableFuture.supplyAsync(() -> b.shutdown(Duration.ofSeconds(10)));
                for (int i = 0; i < 200; i++) { // wait until the old listener is gone
                    try {
                        new Socket("127.0.0.1", port).close();
                        Thread.sleep(10);
                    } catch (IOException gone) { // refused, or reset as the listener closed
                        break;
                    }
                }
                replacement = Sidecars.start(inbound);
                // A's h2 connection still goes to the draining b, which refuses the new stream;
                // A retires that connection and sends the request to the replacement.
                HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://orders/echo/new")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(r.statusCode()).isEqualTo(200);
                assertThat(replacement.openConnections("inbound")).isEqualTo(1);
                assertThat(slow.get().statusCode()).isEqualTo(200);
                assertThat(drained.get()).isTrue();
            } finally {
                a.close();
                b.close();
                if (replacement != null) {
                    replacement.close();
                }
            }
        }
    }
}
