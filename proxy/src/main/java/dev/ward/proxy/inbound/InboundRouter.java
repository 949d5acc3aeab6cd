package dev.ward.proxy.inbound;

import dev.ward.authz.identity.AllowList;
import dev.ward.authz.identity.SpiffeId;
import dev.ward.proxy.http.Backend;
import dev.ward.proxy.http.Headers;
import dev.ward.proxy.http.Route;
import dev.ward.proxy.tls.PeerIdentity;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides each inbound request: the request-target must be origin-form, and the caller's
 * SPIFFE id must be on the allow-list (default deny: an empty list denies everyone). An allowed
 * request goes to the app with the caller's identity in {@code x-ward-peer-identity} and
 * {@code x-forwarded-client-cert}, after any such header from outside was removed. A denied one
 * is answered 403 {@code peer_not_allowed} and logged; the app never sees it.
 */
public final class InboundRouter implements Route.Router {

    private static final Logger log = LoggerFactory.getLogger(InboundRouter.class);

    private final Supplier<AllowList> allow;
    private final SpiffeId local;
    private final Backend app;

    public InboundRouter(Supplier<AllowList> allow, SpiffeId local, Backend app) {
        this.allow = allow;
        this.local = local;
        this.app = app;
    }

    @Override
    public Route route(Channel downstream, HttpRequest req) {
        String uri = req.uri();
        boolean originForm = !uri.isEmpty() && uri.charAt(0) == '/';
        if (!originForm && !("*".equals(uri) && HttpMethod.OPTIONS.equals(req.method()))) {
            return new Route.Reply(HttpResponseStatus.BAD_REQUEST, "bad_request_target",
                    "the request-target must be a path (origin-form)");
        }
        SpiffeId peer = PeerIdentity.of(downstream);
        if (!allow.get().allows(peer)) {
            log.info("denied {} {} from {} ({}): peer_not_allowed", req.method(), uri.split("\\?", 2)[0], peer,
                    downstream.remoteAddress() != null ? downstream.remoteAddress() : downstream.parent().remoteAddress());
            return new Route.Reply(HttpResponseStatus.FORBIDDEN, "peer_not_allowed",
                    "this caller is not allowed to call this service");
        }
        req.headers().remove(Headers.PEER_IDENTITY).remove(Headers.FORWARDED_CLIENT_CERT);
        String id = peer.toString();
        req.headers().set(Headers.PEER_IDENTITY, id);
        req.headers().set(Headers.FORWARDED_CLIENT_CERT, "By=" + local + ";URI=" + id);
        return new Route.Forward(app);
    }
}
