package dev.ward.proxy.inbound;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ward.authz.identity.AllowList;
import dev.ward.authz.identity.SpiffeId;
import dev.ward.proxy.http.Route;
import dev.ward.proxy.tls.PeerIdentity;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import java.util.List;
import org.junit.jupiter.api.Test;

class InboundRouterTest {

    static final SpiffeId ORDERS = SpiffeId.parse("spiffe://td/ns/shop/sa/orders");
    static final SpiffeId FRONTEND = SpiffeId.parse("spiffe://td/ns/shop/sa/frontend");

    final InboundRouter router = new InboundRouter(() -> AllowList.of(List.of(FRONTEND.toString())), ORDERS,
            dev.ward.proxy.outbound.OutboundRouterTest.ORDERS);

    EmbeddedChannel peer(SpiffeId id) {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.attr(PeerIdentity.KEY).set(id);
        return ch;
    }

    @Test
    void allowedPeerIsForwardedWithItsIdentityAndForgedHeadersReplaced() {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/orders/1");
        r.headers().add("X-Ward-Peer-Identity", "spiffe://td/ns/shop/sa/admin");
        r.headers().add("x-forwarded-client-cert", "URI=spiffe://td/ns/shop/sa/admin");
        assertThat(router.route(peer(FRONTEND), r)).isInstanceOf(Route.Forward.class);
        assertThat(r.headers().getAll("x-ward-peer-identity")).containsExactly(FRONTEND.toString());
        assertThat(r.headers().getAll("x-forwarded-client-cert")).containsExactly("By=" + ORDERS + ";URI=" + FRONTEND);
    }

    @Test
    void peerNotOnTheListAndUnauthenticatedChannelsAreDenied() {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/orders/1");
        Route denied = router.route(peer(SpiffeId.parse("spiffe://td/ns/shop/sa/intruder")), r);
        assertThat(denied).isEqualTo(new Route.Reply(io.netty.handler.codec.http.HttpResponseStatus.FORBIDDEN,
                "peer_not_allowed", "this caller is not allowed to call this service"));
        assertThat(router.route(new EmbeddedChannel(), r)).isInstanceOf(Route.Reply.class);
        assertThat(r.headers().contains("x-ward-peer-identity")).isFalse();
    }

    @Test
    void onlyOriginFormTargetsAreAccepted() {
        HttpRequest abs = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "http://orders/x");
        assertThat(((Route.Reply) router.route(peer(FRONTEND), abs)).reason()).isEqualTo("bad_request_target");
        HttpRequest star = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.OPTIONS, "*");
        assertThat(router.route(peer(FRONTEND), star)).isInstanceOf(Route.Forward.class);
    }
}
