package dev.ward.proxy.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ward.proxy.Sidecar;
import dev.ward.proxy.config.ConfigException;
import dev.ward.proxy.testing.Clients;
import dev.ward.proxy.testing.Sidecars;
import dev.ward.proxy.testing.TestApp;
import dev.ward.proxy.testing.TestPki;
import dev.ward.proxy.transport.Transport;
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
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The data path on each socket transport ({@code transport:} in the config): both sidecars on
 * it, requests, bodies both ways, an HTTP/1.1 caller straight to the inbound listener, and an
 * inbound TCP listener, all through real sockets on loopback. The rest of the integration tests
 * run on {@code auto} (epoll); this keeps io_uring and NIO working too.
 */
class TransportIT {

    @TempDir
    Path tmp;

    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    private <T extends AutoCloseable> T keep(T c) {
        open.add(c);
        return c;
    }

    @ParameterizedTest
    @ValueSource(strings = {"io_uring", "epoll", "nio"})
    void relaysThroughBothSidecarsOnTheTransport(String name) throws Exception {
        Transport transport = Transport.of(name);
        assumeTrue(transport.isAvailable(), () -> name + " is not available on this machine: " + transport.unavailabilityCause());
        TestPki pki = new TestPki(tmp);
        TestApp app = keep(new TestApp());
        Path orders = pki.issue("orders");
        Path frontend = pki.issue("frontend");
        String yaml = "transport: " + name + "\n";
        Sidecar b = keep(Sidecars.inbound(orders, app.port(), yaml, TestPki.id("frontend")));
        Sidecar a = keep(Sidecars.outbound(frontend, b.port("inbound"), TestPki.id("orders"), "h2", yaml));
        assertThat(inForce(a)).isEqualTo(name);
        assertThat(inForce(b)).isEqualTo(name);

        HttpClient client = Clients.viaProxy(a.port("outbound"));
        List<CompletableFuture<HttpResponse<String>>> calls = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            calls.add(client.sendAsync(HttpRequest.newBuilder(URI.create("http://orders/echo/" + i)).build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        for (int i = 0; i < calls.size(); i++) {
            HttpResponse<String> r = calls.get(i).get();
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("hello " + TestPki.id("frontend") + " GET /echo/" + i);
        }

        byte[] body = new byte[3 * 1024 * 1024 + 17];
        new Random(42).nextBytes(body);
        HttpResponse<String> up = client.send(HttpRequest.newBuilder(URI.create("http://orders/upload"))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(up.statusCode()).isEqualTo(200);
        assertThat(up.body()).isEqualTo(body.length + " " + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body)));

        HttpResponse<InputStream> down = client.send(HttpRequest.newBuilder(URI.create("http://orders/download?bytes=" + body.length))
                .build(), HttpResponse.BodyHandlers.ofInputStream());
        assertThat(down.statusCode()).isEqualTo(200);
        try (InputStream in = down.body()) {
            byte[] got = in.readAllBytes();
            assertThat(got).hasSize(body.length);
            for (int i = 0; i < got.length; i++) {
                if (got[i] != (byte) (i % (64 * 1024))) {
                    throw new AssertionError("byte " + i + " differs");
                }
            }
        }

        // An HTTP/1.1 caller with its own certificate, straight to the inbound listener.
        HttpClient h1 = Clients.mtlsClient(frontend, HttpClient.Version.HTTP_1_1);
        HttpResponse<String> direct = h1.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + b.port("inbound") + "/echo/h1"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(direct.statusCode()).isEqualTo(200);
        assertThat(direct.version()).isEqualTo(HttpClient.Version.HTTP_1_1);
        assertThat(direct.body()).isEqualTo("hello " + TestPki.id("frontend") + " GET /echo/h1");
    }

    @ParameterizedTest
    @ValueSource(strings = {"io_uring", "epoll", "nio"})
    void relaysRawTcpOnTheTransport(String name) throws Exception {
        Transport transport = Transport.of(name);
        assumeTrue(transport.isAvailable(), () -> name + " is not available on this machine: " + transport.unavailabilityCause());
        ServerSocket echo = keep(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()));
        Thread t = new Thread(() -> {
            while (!echo.isClosed()) {
                try (Socket c = echo.accept()) {
                    c.getInputStream().transferTo(c.getOutputStream());
                } catch (IOException ignored) {
                    // closed, or the next connection
                }
            }
        }, "echo");
        t.setDaemon(true);
        t.start();
        TestPki pki = new TestPki(tmp);
        Sidecar tcp = keep(Sidecars.start(Sidecars.identity(pki.issue("db")) + "transport: " + name + "\n"
                + "inbound: { listen: 127.0.0.1:0, app: 127.0.0.1:" + echo.getLocalPort() + ", protocol: tcp, allow: ["
                + TestPki.id("frontend") + "] }\noutbound: { listen: 127.0.0.1:0 }\n"));
        assertThat(inForce(tcp)).isEqualTo(name);
        try (SSLSocket s = Clients.handshake(Clients.mtls(pki.issue("frontend")), tcp.port("inbound"))) {
            byte[] msg = ("ping over mtls on " + name + "\n").repeat(2000).getBytes(StandardCharsets.US_ASCII);
            CompletableFuture<byte[]> back = CompletableFuture.supplyAsync(() -> {
                try {
                    return s.getInputStream().readNBytes(msg.length);
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            s.getOutputStream().write(msg);
            s.getOutputStream().flush();
            assertThat(back.get()).isEqualTo(msg);
        }
    }

    @Test
    void anUnknownTransportIsRefusedByName() {
        assertThatThrownBy(() -> Sidecars.start("transport: kqueue\n")).isInstanceOf(ConfigException.class)
                .hasMessageContaining("transport: 'kqueue' is not a transport (expected: auto, epoll, io_uring or nio)");
    }

    /** The transport a sidecar runs on, as its admin {@code /config} reports it. */
    private static String inForce(Sidecar s) throws Exception {
        String json = Clients.plain().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port("admin") + "/config")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        return new ObjectMapper().readTree(json).path("transportInForce").asText();
    }
}
