package dev.ward.proxy.inbound;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ward.authz.identity.SpiffeId;
import dev.ward.proxy.http.Route;
import dev.ward.proxy.policy.PolicySource;
import dev.ward.proxy.tls.PeerIdentity;
import dev.ward.telemetry.AuditLog;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.List;
import org.junit.jupiter.api.Test;

class InboundRouterTest {

    static final SpiffeId ORDERS = SpiffeId.parse("spiffe://td/ns/shop/sa/orders");
    static final SpiffeId FRONTEND = SpiffeId.parse("spiffe://td/ns/shop/sa/frontend");

    final ByteArrayOutputStream auditOut = new ByteArrayOutputStream();
    final AuditLog audit = new AuditLog(auditOut, Clock.systemUTC());
    final InboundRouter router;

    InboundRouterTest() throws Exception {
        router = new InboundRouter(PolicySource.fromAllowList(List.of(FRONTEND.toString()), audit)::active, ORDERS,
                dev.ward.proxy.outbound.OutboundRouterTest.ORDERS, audit);
    }

    EmbeddedChannel peer(SpiffeId id) {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.attr(PeerIdentity.KEY).set(id);
        return ch;
    }

    static HttpRequest get(String uri) {
        return new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, uri);
    }

    @Test
    void allowedPeerIsForwardedWithItsIdentityAndTheNormalizedTarget() {
        HttpRequest r = get("/orders/./1//items/../?q=%2F");
        r.headers().add("X-Ward-Peer-Identity", "spiffe://td/ns/shop/sa/admin");
        r.headers().add("x-forwarded-client-cert", "URI=spiffe://td/ns/shop/sa/admin");
        assertThat(router.route(peer(FRONTEND), r)).isInstanceOf(Route.Forward.class);
        assertThat(r.uri()).isEqualTo("/orders/1/?q=%2F");
        assertThat(r.headers().getAll("x-ward-peer-identity")).containsExactly(FRONTEND.toString());
        assertThat(r.headers().getAll("x-forwarded-client-cert")).containsExactly("By=" + ORDERS + ";URI=" + FRONTEND);
    }

    @Test
    void eachRequestCarriesItsOwnPeersIdentityWhenPeersAlternate() throws Exception {
        SpiffeId billing = SpiffeId.parse("spiffe://td/ns/shop/sa/billing");
        InboundRouter two = new InboundRouter(PolicySource.fromAllowList(List.of(FRONTEND.toString(), billing.toString()),
                audit)::active, ORDERS, dev.ward.proxy.outbound.OutboundRouterTest.ORDERS, audit);
        for (SpiffeId peer : List.of(FRONTEND, billing, billing, FRONTEND, SpiffeId.parse(FRONTEND.toString()))) {
            HttpRequest r = get("/orders/1");
            assertThat(two.route(peer(peer), r)).isInstanceOf(Route.Forward.class);
            assertThat(r.headers().getAll("x-ward-peer-identity")).containsExactly(peer.toString());
            assertThat(r.headers().getAll("x-forwarded-client-cert")).containsExactly("By=" + ORDERS + ";URI=" + peer);
        }
    }

    @Test
    void peerNotAllowedIsDeniedAndAudited() {
        HttpRequest r = get("/orders/1?secret=x");
        Route denied = router.route(peer(SpiffeId.parse("spiffe://td/ns/shop/sa/intruder")), r);
        assertThat(denied).isEqualTo(new Route.Reply(HttpResponseStatus.FORBIDDEN, "identity_not_allowed",
                "the service's policy does not allow this request"));
        assertThat(r.headers().contains("x-ward-peer-identity")).isFalse();
        String line = auditOut.toString(StandardCharsets.UTF_8).lines().filter(l -> l.contains("\"deny\"")).findFirst().orElseThrow();
        assertThat(line).contains("\"peer\":\"spiffe://td/ns/shop/sa/intruder\"", "\"path\":\"/orders/1\"",
                "\"reason\":\"identity_not_allowed\"").doesNotContain("secret");
        assertThat(router.route(new EmbeddedChannel(), get("/x"))).isInstanceOf(Route.Reply.class);
    }

    @Test
    void targetsThatCannotBeNormalizedSafelyAre400() {
        assertThat(((Route.Reply) router.route(peer(FRONTEND), get("http://orders/x"))).reason()).isEqualTo("not_origin_form");
        assertThat(((Route.Reply) router.route(peer(FRONTEND), get("/admin;x"))).reason()).isEqualTo("matrix_parameter");
        assertThat(((Route.Reply) router.route(peer(FRONTEND), get("/admin%2f"))).status().code()).isEqualTo(400);
    }

    /** Claims headers sent from outside go, whatever their case and however the map holds their names; the rest stay. */
    @Test
    void claimHeadersFromOutsideAreStrippedWhateverTheirCase() {
        for (io.netty.handler.codec.http.HttpHeaders h : List.of(new dev.ward.proxy.http.CompactHttpHeaders(),
                new io.netty.handler.codec.http.DefaultHttpHeaders())) {
            h.add("host", "orders").add("X-Ward-JWT-Sub", "mallory").add(io.netty.util.AsciiString.of("x-ward-jwt-iss"), "evil")
                    .add("x-ward-jw", "short").add("accept", "*/*").add("x-ward-jwt-sub", "again");
            HttpRequest req = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/a", h);
            InboundRouter.stripJwtHeaders(req);
            assertThat(req.headers().names()).as(h.getClass().getSimpleName()).containsExactlyInAnyOrder("host", "x-ward-jw", "accept");
        }
    }
}
