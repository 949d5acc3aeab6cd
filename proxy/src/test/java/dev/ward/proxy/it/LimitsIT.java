package dev.ward.proxy.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ward.proxy.Sidecar;
import dev.ward.proxy.testing.Sidecars;
import dev.ward.proxy.testing.TestApp;
import dev.ward.proxy.testing.TestPki;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The protective limits, on a real listener with small values. */
class LimitsIT {

    @TempDir
    Path tmp;

    TestApp app;
    Sidecar a;

    @BeforeEach
    void setUp() throws Exception {
        app = new TestApp();
        TestPki pki = new TestPki(tmp);
        a = Sidecars.start(Sidecars.identity(pki.issue("frontend")) + """
                inbound: { enabled: false }
                outbound: { listen: 127.0.0.1:0 }
                limits: { headerReadTimeout: 300ms, idleTimeout: 600ms, maxConnections: 2 }
                """);
    }

    @AfterEach
    void tearDown() {
        a.close();
        app.close();
    }

    private Socket connect() throws Exception {
        Socket s = new Socket("127.0.0.1", a.port("outbound"));
        s.setSoTimeout(5000);
        return s;
    }

    /** Reads until the server closes; returns the time it took. */
    private static long millisUntilClosed(Socket s) throws Exception {
        long t0 = System.nanoTime();
        InputStream in = s.getInputStream();
        while (in.read() >= 0) {
            // drain
        }
        return (System.nanoTime() - t0) / 1_000_000;
    }

    @Test
    void slowHeadersAreCutOff() throws Exception {
        try (Socket s = connect()) {
            s.getOutputStream().write("GET / HTTP/1.1\r\nHost: orders\r\n".getBytes(StandardCharsets.US_ASCII)); // never finished
            s.getOutputStream().flush();
            assertThat(millisUntilClosed(s)).isLessThan(4000);
        }
    }

    @Test
    void idleKeepAliveConnectionsAreClosed() throws Exception {
        try (Socket s = connect()) {
            s.getOutputStream().write("GET / HTTP/1.1\r\nHost: payments\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            // 404 no_route, kept alive; then nothing: the idle timeout closes it.
            byte[] head = s.getInputStream().readNBytes(12);
            assertThat(new String(head, StandardCharsets.US_ASCII)).isEqualTo("HTTP/1.1 404");
            assertThat(millisUntilClosed(s)).isLessThan(4000);
        }
    }

    @Test
    void connectionsOverTheLimitAreClosedAtOnce() throws Exception {
        try (Socket one = connect(); Socket two = connect()) {
            assertThat(one.isConnected() && two.isConnected()).isTrue();
            for (int i = 0; i < 100 && a.openConnections("outbound") < 2; i++) {
                Thread.sleep(10);
            }
            assertThat(a.openConnections("outbound")).isEqualTo(2);
            try (Socket three = connect()) {
                assertThat(three.getInputStream().read()).isEqualTo(-1);
            }
            assertThat(a.openConnections("outbound")).isEqualTo(2);
        }
    }
}
