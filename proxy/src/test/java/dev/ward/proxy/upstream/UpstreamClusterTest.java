package dev.ward.proxy.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ward.authz.identity.SpiffeId;
import dev.ward.proxy.config.ConfigLoader;
import dev.ward.proxy.config.SidecarConfig;
import dev.ward.proxy.http.ConnectionPool;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class UpstreamClusterTest {

    final AtomicReference<Object> answer = new AtomicReference<>();

    UpstreamCluster cluster(String where) throws Exception {
        SidecarConfig c = ConfigLoader.parse("outbound: { upstreams: { orders: { " + where
                + ", identity: spiffe://td/ns/shop/sa/orders } } }", "t");
        return new UpstreamCluster("orders", c.outbound().upstreams().get("orders"),
                a -> new ConnectionPool(new ConnectionPool.Settings("orders", a, null, SpiffeId.parse("spiffe://td/ns/shop/sa/orders"),
                        Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofSeconds(1), 8192, NioSocketChannel.class,
                        "upstream_unavailable")),
                host -> {
                    Object a = answer.get();
                    if (a instanceof UnknownHostException e) {
                        throw e;
                    }
                    return (InetAddress[]) a;
                });
    }

    static InetAddress[] ips(String... ips) throws UnknownHostException {
        InetAddress[] out = new InetAddress[ips.length];
        for (int i = 0; i < ips.length; i++) {
            out[i] = InetAddress.getByName(ips[i]);
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    static List<String> endpoints(UpstreamCluster c) {
        return ((List<Map<String, Object>>) c.snapshot().get("endpoints")).stream()
                .map(m -> m.get("address") + " " + m.get("host")).toList();
    }

    @Test
    void everyAddressOfANameIsAnEndpointAndTheSetFollowsDns() throws Exception {
        answer.set(ips("10.0.0.1", "10.0.0.2"));
        UpstreamCluster c = cluster("endpoints: [orders.shop.svc:15006, 10.0.0.9:15006]");
        c.resolveNow();
        assertThat(endpoints(c)).containsExactly("10.0.0.1:15006 orders.shop.svc", "10.0.0.2:15006 orders.shop.svc",
                "10.0.0.9:15006 10.0.0.9");
        answer.set(ips("10.0.0.2", "10.0.0.3"));
        c.resolveNow();
        assertThat(endpoints(c)).containsExactly("10.0.0.2:15006 orders.shop.svc", "10.0.0.3:15006 orders.shop.svc",
                "10.0.0.9:15006 10.0.0.9");
        c.close();
    }

    @Test
    void aFailedLookupKeepsTheLastGoodEndpointsAndSaysWhy() throws Exception {
        answer.set(ips("10.0.0.1"));
        UpstreamCluster c = cluster("endpoints: [orders.shop.svc:15006]");
        c.resolveNow();
        answer.set(new UnknownHostException("orders.shop.svc: Name or service not known"));
        c.resolveNow();
        assertThat(endpoints(c)).containsExactly("10.0.0.1:15006 orders.shop.svc");
        assertThat(c.snapshot().get("resolveError").toString()).contains("cannot resolve orders.shop.svc");
        c.close();
    }

    @Test
    void anAddressIsOneLogicalEndpointTheFirstAnswer() throws Exception {
        answer.set(ips("10.0.0.7", "10.0.0.8"));
        UpstreamCluster c = cluster("address: orders.shop.svc:15006");
        c.resolveNow();
        assertThat(endpoints(c)).containsExactly("10.0.0.7:15006 orders.shop.svc");
        c.close();
    }

    @Test
    void withNoEndpointsARequestIsAnswered503NoEndpoints() throws Exception {
        answer.set(new UnknownHostException("nope"));
        UpstreamCluster c = cluster("endpoints: [orders.shop.svc:15006]");
        c.resolveNow();
        io.netty.channel.EventLoopGroup g = new io.netty.channel.MultiThreadIoEventLoopGroup(1, io.netty.channel.nio.NioIoHandler.newFactory());
        try {
            var f = c.acquire(g.next()).awaitUninterruptibly();
            assertThat(f.cause()).isInstanceOfSatisfying(dev.ward.proxy.http.BackendException.class, e -> {
                assertThat(e.status().code()).isEqualTo(503);
                assertThat(e.reason()).isEqualTo("no_endpoints");
                assertThat(e.getMessage()).contains("cannot resolve orders.shop.svc");
            });
        } finally {
            g.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
            c.close();
        }
    }
}
