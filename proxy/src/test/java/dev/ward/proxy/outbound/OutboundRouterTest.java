package dev.ward.proxy.outbound;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.ward.proxy.http.Backend;
import dev.ward.proxy.http.Route;
import io.netty.channel.EventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.Future;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

public class OutboundRouterTest {

    /** A backend that must never be used to send anything in these tests. */
    public static final Backend ORDERS = new Backend() {
        @Override
        public String name() {
            return "orders";
        }

        @Override
        public Future<dev.ward.proxy.http.Upstream> acquire(EventLoop loop) {
            return fail("routing must not connect");
        }

        @Override
        public void release(dev.ward.proxy.http.Upstream up, boolean reusable) {
            fail("routing must not release");
        }
    };

    final OutboundRouter router = OutboundRouter.byHost(Map.of("orders", ORDERS, "orders.shop.svc", ORDERS));
    final EmbeddedChannel ch = new EmbeddedChannel();

    static HttpRequest req(HttpMethod m, String uri, String host) {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, m, uri);
        if (host != null) {
            r.headers().set("host", host);
        }
        return r;
    }

    @ParameterizedTest
    @CsvSource({"orders, orders", "Orders:8080, orders", "orders.shop.svc., orders.shop.svc", "[::1]:80, ::1", "ORDERS.Shop.svc:1, orders.shop.svc"})
    void hostKeyDropsPortCaseAndTrailingDot(String host, String key) {
        assertThat(dev.ward.proxy.http.Headers.hostKey(host)).isEqualTo(key);
    }

    @Test
    void routesByHostHeader() {
        assertThat(router.route(ch, req(HttpMethod.GET, "/a", "orders:80"))).isEqualTo(new Route.Forward(ORDERS));
    }

    @Test
    void absoluteFormIsRoutedByItsHostAndRewrittenToOriginForm() {
        HttpRequest r = req(HttpMethod.GET, "http://orders.shop.svc/a/b?c=d", null);
        r.headers().set("x-ward-peer-identity", "spiffe://forged/x");
        assertThat(router.route(ch, r)).isEqualTo(new Route.Forward(ORDERS));
        assertThat(r.uri()).isEqualTo("/a/b?c=d");
        assertThat(r.headers().get("host")).isEqualTo("orders.shop.svc");
        assertThat(r.headers().contains("x-ward-peer-identity")).isFalse();
    }

    @Test
    void refusesWhatItCannotRoute() {
        assertThat(((Route.Reply) router.route(ch, req(HttpMethod.GET, "/a", "payments"))).reason()).isEqualTo("no_route");
        assertThat(((Route.Reply) router.route(ch, req(HttpMethod.GET, "/a", null))).reason()).isEqualTo("missing_host");
        assertThat(((Route.Reply) router.route(ch, req(HttpMethod.CONNECT, "orders:443", "orders"))).status().code()).isEqualTo(405);
        assertThat(((Route.Reply) router.route(ch, req(HttpMethod.GET, "https://orders/a", null))).reason()).isEqualTo("https_not_supported");
    }
}
