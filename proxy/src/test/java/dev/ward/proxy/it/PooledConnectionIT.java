package dev.ward.proxy.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ward.proxy.Sidecar;
import dev.ward.proxy.testing.Clients;
import dev.ward.proxy.testing.Sidecars;
import dev.ward.proxy.testing.TestPki;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A kept-alive connection to the app, back in the pool between exchanges, belongs to no exchange:
 * a response the app sends on it unasked goes to no caller, and the connection is closed. (Each
 * pooled connection keeps one relay handler for its whole life, which an exchange points at itself
 * and releases; this checks that the release really leaves it pointing at nothing.)
 */
class PooledConnectionIT {

    @TempDir
    Path tmp;

    ServerSocket app;
    Sidecar b;

    @AfterEach
    void close() throws IOException {
        if (b != null) {
            b.close();
        }
        app.close();
    }

    @Test
    void aResponseTheAppSendsUnaskedOnAnIdlePooledConnectionGoesNowhereAndClosesIt() throws Exception {
        app = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        AtomicInteger connections = new AtomicInteger();
        CompletableFuture<Integer> afterUnasked = new CompletableFuture<>();
        Thread server = new Thread(() -> serve(connections, afterUnasked), "raw-app");
        server.setDaemon(true);
        server.start();

        TestPki pki = new TestPki(tmp);
        Path orders = pki.issue("orders");
        Path frontend = pki.issue("frontend");
        b = Sidecars.inbound(orders, app.getLocalPort(), "", TestPki.id("frontend"));
        HttpClient client = Clients.mtlsClient(frontend, HttpClient.Version.HTTP_2);
        URI uri = URI.create("https://127.0.0.1:" + b.port("inbound") + "/first");

        HttpResponse<String> first = client.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(first.statusCode()).isEqualTo(200);
        assertThat(first.body()).isEqualTo("answer 1");

        // The app now answers again on the same connection, unasked: Ward closes it (the app reads EOF).
        assertThat(afterUnasked.get(10, TimeUnit.SECONDS)).as("what the app reads after its unasked response").isEqualTo(-1);

        HttpResponse<String> second = client.send(HttpRequest.newBuilder(uri.resolve("/second")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(second.statusCode()).isEqualTo(200);
        assertThat(second.body()).as("the next request gets its own answer, not the unasked one").isEqualTo("answer 2");
        assertThat(connections.get()).as("a new connection to the app").isEqualTo(2);
    }

    /** The app: answers each connection's first request, and on the first connection also says something unasked. */
    private void serve(AtomicInteger connections, CompletableFuture<Integer> afterUnasked) {
        try {
            while (true) {
                Socket s = app.accept();
                int n = connections.incrementAndGet();
                InputStream in = s.getInputStream();
                OutputStream out = s.getOutputStream();
                readHead(in);
                respond(out, "answer " + n);
                if (n == 1) {
                    Thread.sleep(200); // the exchange is over and the connection back in the pool
                    respond(out, "unasked");
                    s.setSoTimeout(5000);
                    try {
                        afterUnasked.complete(in.read());
                    } catch (java.net.SocketTimeoutException e) {
                        afterUnasked.complete(-2); // still open after 5 s
                    } catch (IOException e) {
                        afterUnasked.complete(-1); // reset: closed as well
                    }
                    s.close();
                } else {
                    readHead(in); // keep it open until Ward closes it
                    s.close();
                }
            }
        } catch (Exception e) {
            afterUnasked.completeExceptionally(e);
        }
    }

    private static void respond(OutputStream out, String body) throws IOException {
        out.write(("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: " + body.length() + "\r\n\r\n" + body)
                .getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    /** Reads one request head (these requests have no body); returns what it read. */
    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        for (int c; (c = in.read()) != -1; ) {
            head.write(c);
            matched = (c == "\r\n\r\n".charAt(matched)) ? matched + 1 : (c == '\r' ? 1 : 0);
            if (matched == 4) {
                break;
            }
        }
        return head.toString(StandardCharsets.US_ASCII);
    }
}
