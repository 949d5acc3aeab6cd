package dev.ward.proxy.admin;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.util.function.Supplier;

/**
 * The local admin endpoints: {@code /healthz} (the process serves), {@code /metrics}
 * (Prometheus text, or OpenMetrics when asked for), {@code /readyz} (listeners
 * bound and identity loaded; 503 with the reason otherwise) and {@code /config} (the effective
 * config as JSON, with the identity in force; key material is never shown) and {@code /policy}
 * (the policy in force: service, version, mode, rules, where it came from, the last refused change),
 * {@code /upstreams} and {@code /upstreams/NAME} (endpoints, circuit breakers, in flight,
 * rejections, retries). GET and HEAD, except {@code POST /explain}.
 */
public final class AdminServer extends SimpleChannelInboundHandler<FullHttpRequest> {

    /** What the admin endpoints read from the running sidecar. */
    public interface State {
        /** Null when ready, else why not. */
        String notReadyReason();

        String configJson();

        String policyJson();

        /** The outbound upstreams' state as JSON; {@code name} null: all of them. Null if there is no such upstream. */
        String upstreamsJson(String name);

        /** Answers {@code POST /explain}; throws IllegalArgumentException for a malformed question. */
        String explainJson(String requestBody);

        /** The metrics in the format {@code accept} (the request's Accept header, may be null) asks for. */
        Metrics metrics(String accept);
    }

    /** A metrics scrape and its content type. */
    public record Metrics(String contentType, byte[] body) {}

    private final Supplier<State> state;

    public AdminServer(Supplier<State> state) {
        this.state = state;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
        if (!req.decoderResult().isSuccess()) {
            send(ctx, req, HttpResponseStatus.BAD_REQUEST, "text/plain", "bad request\n", false);
            return;
        }
        String path = req.uri().split("\\?", 2)[0];
        State s = state.get();
        if (path.equals("/explain")) {
            explain(ctx, req, s);
            return;
        }
        if (!HttpMethod.GET.equals(req.method()) && !HttpMethod.HEAD.equals(req.method())) {
            send(ctx, req, HttpResponseStatus.METHOD_NOT_ALLOWED, "text/plain", "GET or HEAD only\n", true);
            return;
        }
        switch (path) {
            case "/healthz" -> send(ctx, req, HttpResponseStatus.OK, "text/plain", "ok\n", true);
            case "/readyz" -> {
                String why = s.notReadyReason();
                if (why == null) {
                    send(ctx, req, HttpResponseStatus.OK, "text/plain", "ready\n", true);
                } else {
                    send(ctx, req, HttpResponseStatus.SERVICE_UNAVAILABLE, "text/plain", "not ready: " + why + "\n", true);
                }
            }
            case "/metrics" -> {
                Metrics m = s.metrics(req.headers().get(HttpHeaderNames.ACCEPT));
                send(ctx, req, HttpResponseStatus.OK, m.contentType(), m.body(), true);
            }
            case "/config" -> send(ctx, req, HttpResponseStatus.OK, "application/json", s.configJson() + "\n", true);
            case "/policy" -> send(ctx, req, HttpResponseStatus.OK, "application/json", s.policyJson() + "\n", true);
            case "/upstreams" -> send(ctx, req, HttpResponseStatus.OK, "application/json", s.upstreamsJson(null) + "\n", true);
            default -> {
                if (path.startsWith("/upstreams/")) {
                    String name = path.substring("/upstreams/".length());
                    String json = s.upstreamsJson(name);
                    if (json != null) {
                        send(ctx, req, HttpResponseStatus.OK, "application/json", json + "\n", true);
                    } else {
                        send(ctx, req, HttpResponseStatus.NOT_FOUND, "application/json",
                                "{\"error\":\"unknown_upstream\",\"message\":" + quote("no upstream named '" + name
                                        + "'; GET /upstreams lists them") + "}\n", true);
                    }
                    return;
                }
                send(ctx, req, HttpResponseStatus.NOT_FOUND, "text/plain",
                        "not found; try /healthz, /readyz, /metrics, /config, /policy or /upstreams\n", true);
            }
        }
    }

    private static void explain(ChannelHandlerContext ctx, FullHttpRequest req, State s) {
        var remote = ctx.channel().remoteAddress();
        if (!(remote instanceof java.net.InetSocketAddress a) || !a.getAddress().isLoopbackAddress()) {
            send(ctx, req, HttpResponseStatus.FORBIDDEN, "text/plain", "POST /explain is answered on loopback only\n", false);
            return;
        }
        if (!HttpMethod.POST.equals(req.method())) {
            send(ctx, req, HttpResponseStatus.METHOD_NOT_ALLOWED, "text/plain",
                    "POST a JSON question: {\"from\": \"spiffe://...\", \"method\": \"GET\", \"path\": \"/x\"}\n", true);
            return;
        }
        try {
            String answer = s.explainJson(req.content().toString(java.nio.charset.StandardCharsets.UTF_8));
            send(ctx, req, HttpResponseStatus.OK, "application/json", answer + "\n", true);
        } catch (IllegalArgumentException e) {
            send(ctx, req, HttpResponseStatus.BAD_REQUEST, "application/json",
                    "{\"error\":\"bad_question\",\"message\":" + quote(e.getMessage()) + "}\n", true);
        }
    }

    private static String quote(String s) {
        return "\"" + new String(com.fasterxml.jackson.core.io.JsonStringEncoder.getInstance().quoteAsString(s)) + "\"";
    }

    private static void send(ChannelHandlerContext ctx, FullHttpRequest req, HttpResponseStatus status, String type,
                             String body, boolean keepAlive) {
        send(ctx, req, status, type + "; charset=utf-8", body.getBytes(StandardCharsets.UTF_8), keepAlive);
    }

    private static void send(ChannelHandlerContext ctx, FullHttpRequest req, HttpResponseStatus status, String contentType,
                             byte[] bytes, boolean keepAlive) {
        boolean head = HttpMethod.HEAD.equals(req.method());
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(bytes));
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length);
        boolean ka = keepAlive && HttpUtil.isKeepAlive(req);
        HttpUtil.setKeepAlive(r, ka);
        var f = ctx.writeAndFlush(r);
        if (!ka) {
            f.addListener(ChannelFutureListener.CLOSE);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }
}
