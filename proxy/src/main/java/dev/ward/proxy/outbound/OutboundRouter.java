package dev.ward.proxy.outbound;

import dev.ward.proxy.http.Backend;
import dev.ward.proxy.http.Headers;
import dev.ward.proxy.http.Route;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Map;

/**
 * Picks the upstream of an outbound request: a fixed one on a per-upstream port, otherwise by
 * the absolute URI's host (the app uses Ward as its HTTP proxy) or the Host header. An
 * absolute-form target is rewritten to origin-form. Unknown hosts get 404 {@code no_route};
 * {@code CONNECT} and {@code https://} targets get 405/400, since Ward itself originates the TLS.
 */
public final class OutboundRouter implements Route.Router {

    /** The route to each host's upstream, made once: a route is immutable, so every request to it shares one. */
    private final Map<String, Route.Forward> byHost;
    private final Route.Forward fixed;

    /** Routes by host; {@code byHost} keys are lower-case host names without port. */
    public static OutboundRouter byHost(Map<String, ? extends Backend> byHost) {
        return new OutboundRouter(byHost, null);
    }

    /** Sends everything to one upstream (a per-upstream listener). */
    public static OutboundRouter fixed(Backend upstream) {
        return new OutboundRouter(Map.of(), upstream);
    }

    private OutboundRouter(Map<String, ? extends Backend> byHost, Backend fixed) {
        Map<String, Route.Forward> routes = new java.util.HashMap<>();
        byHost.forEach((host, b) -> routes.put(host, new Route.Forward(b)));
        this.byHost = Map.copyOf(routes);
        this.fixed = fixed == null ? null : new Route.Forward(fixed);
    }

    @Override
    public Route route(Channel downstream, HttpRequest req) {
        if (HttpMethod.CONNECT.equals(req.method())) {
            return new Route.Reply(HttpResponseStatus.METHOD_NOT_ALLOWED, "connect_not_supported",
                    "send plain http:// requests; Ward adds mutual TLS itself");
        }
        String host = null;
        String uri = req.uri();
        if (!uri.startsWith("/")) {
            URI u;
            try {
                u = new URI(uri);
            } catch (URISyntaxException e) {
                return new Route.Reply(HttpResponseStatus.BAD_REQUEST, "bad_request_target", "malformed request-target");
            }
            if ("https".equalsIgnoreCase(u.getScheme())) {
                return new Route.Reply(HttpResponseStatus.BAD_REQUEST, "https_not_supported",
                        "send plain http:// requests; Ward adds mutual TLS itself");
            }
            if (!"http".equalsIgnoreCase(u.getScheme()) || u.getRawAuthority() == null) {
                return new Route.Reply(HttpResponseStatus.BAD_REQUEST, "bad_request_target",
                        "the request-target must be a path or an absolute http:// URI");
            }
            host = u.getHost();
            String path = u.getRawPath() == null || u.getRawPath().isEmpty() ? "/" : u.getRawPath();
            req.setUri(u.getRawQuery() == null ? path : path + "?" + u.getRawQuery());
            if (!req.headers().contains(HttpHeaderNames.HOST)) {
                req.headers().set(HttpHeaderNames.HOST, u.getRawAuthority());
            }
        }
        req.headers().remove(Headers.PEER_IDENTITY).remove(Headers.FORWARDED_CLIENT_CERT);
        if (fixed != null) {
            return fixed;
        }
        if (host == null) {
            host = req.headers().get(HttpHeaderNames.HOST);
        }
        if (host == null || host.isBlank()) {
            return new Route.Reply(HttpResponseStatus.BAD_REQUEST, "missing_host",
                    "no Host header: say which upstream to call");
        }
        String key = Headers.hostKey(host);
        Route.Forward r = byHost.get(key);
        if (r == null) {
            return new Route.Reply(HttpResponseStatus.NOT_FOUND, "no_route",
                    "no upstream is configured for host '" + key + "'");
        }
        return r;
    }
}
