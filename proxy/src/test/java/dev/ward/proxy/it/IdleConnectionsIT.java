package dev.ward.proxy.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ward.proxy.Sidecar;
import dev.ward.proxy.testing.Clients;
import dev.ward.proxy.testing.InboundFixture;
import dev.ward.proxy.testing.Sidecars;
import dev.ward.proxy.testing.TestPki;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

/**
 * Idle timeouts on the HTTP/2 connection between two sidecars: a connection carrying requests is
 * never idle, however short the timeout (the idle check once sat behind the HTTP/2 multiplexer,
 * saw no stream traffic, and closed a busy connection every timeout, truncating the responses in
 * flight); a connection that carries nothing is closed.
 */
class IdleConnectionsIT extends InboundFixture {

    @Test
    void aBusyHttp2ConnectionOutlivesItsIdleTimeoutsAndAnIdleOneIsClosed() throws Exception {
        b.close(); // the fixture's B, with the default 5 min idle timeout: this test wants 400 ms
        b = Sidecars.inbound(ordersCerts, app.port(), "limits: { idleTimeout: 400ms }\n", TestPki.id("frontend"));
        a = Sidecars.start(Sidecars.identity(frontendCerts) + """
                inbound: { enabled: false }
                outbound:
                  listen: 127.0.0.1:0
                  upstreams:
                    orders: { address: 127.0.0.1:%d, identity: %s, listen: 127.0.0.1:0, timeouts: { idle: 400ms } }
                limits: { idleTimeout: 400ms }
                """.formatted(b.port("inbound"), TestPki.id("orders")));
        HttpClient client = Clients.plain();
        URI uri = URI.create("http://127.0.0.1:" + a.port("upstream:orders") + "/echo");

        // Requests every 50 ms for 2 s: five idle timeouts' worth, never 400 ms without traffic.
        long end = System.nanoTime() + 2_000_000_000L;
        int sent = 0;
        while (System.nanoTime() < end) {
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
            sent++;
            Thread.sleep(50);
        }
        assertThat(sent).isGreaterThan(10);
        assertThat(handshakes(b)).as("one connection from A to B carried every request").isEqualTo(1);

        // Nothing for well over the timeout: both sides close it; the next request connects anew.
        Thread.sleep(1200);
        assertThat(b.openConnections("inbound")).as("the idle connection from A is closed").isZero();
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(handshakes(b)).isEqualTo(2);
    }

    private static long handshakes(Sidecar s) {
        return s.tls().refusals().successes().get("inbound");
    }
}
