package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpDecoderConfig;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** ProxyHandler's local replies and how it writes to a backend, driven without sockets. Forwarding end to end is covered by the ITs. */
class ProxyHandlerTest {

    final Drain drain = new Drain();

    final java.io.ByteArrayOutputStream accessLog = new java.io.ByteArrayOutputStream();

    EmbeddedChannel channel(Route.Router router) {
        var access = new dev.ward.telemetry.AccessLog(dev.ward.telemetry.AccessLog.Mode.ALL, accessLog, java.time.Clock.systemUTC());
        var telemetry = new dev.ward.telemetry.RequestTelemetry(dev.ward.telemetry.RequestTelemetry.Direction.INBOUND,
                dev.ward.telemetry.tracing.Tracing.start(dev.ward.telemetry.tracing.Tracing.Settings.none("app", "test")),
                new dev.ward.telemetry.metrics.WardMetrics("test"), access, "app");
        return new EmbeddedChannel(new Http1ServerCodec(new HttpDecoderConfig()), new ProxyHandler(router, false, "test", drain, telemetry));
    }

    /** "status method path reason" of each access log line so far. */
    List<String> log() {
        List<String> l = new ArrayList<>();
        for (String line : accessLog.toString(StandardCharsets.UTF_8).split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            try {
                var n = new com.fasterxml.jackson.databind.ObjectMapper().readTree(line);
                l.add(n.get("status").asInt() + " " + n.get("method").asText() + " " + n.get("path").asText() + " "
                        + (n.has("reason") ? n.get("reason").asText() : "null"));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        return l;
    }

    static String readAll(EmbeddedChannel ch) {
        StringBuilder sb = new StringBuilder();
        for (ByteBuf b; (b = ch.readOutbound()) != null; ) {
            sb.append(b.toString(StandardCharsets.ISO_8859_1));
            b.release();
        }
        return sb.toString();
    }

    static ByteBuf bytes(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.ISO_8859_1);
    }

    @Test
    void deniedRequestGetsTheReplyAndKeepAliveSurvives() {
        EmbeddedChannel ch = channel((c, r) -> new Route.Reply(HttpResponseStatus.FORBIDDEN, "identity_not_allowed", "no"));
        ch.writeInbound(bytes("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
        String out = readAll(ch);
        assertThat(out).startsWith("HTTP/1.1 403 Forbidden").contains("x-ward-reason: identity_not_allowed")
                .endsWith("{\"error\":\"identity_not_allowed\",\"message\":\"no\"}\n");
        assertThat(ch.isOpen()).isTrue();
        assertThat(log()).containsExactly("403 GET /a identity_not_allowed");
        assertThat(drain.inFlight()).isZero();
        assertThat(ch.finishAndReleaseAll()).isFalse();
    }

    @Test
    void deniedRequestWithABodyClosesRatherThanReadingIt() {
        EmbeddedChannel ch = channel((c, r) -> new Route.Reply(HttpResponseStatus.FORBIDDEN, "identity_not_allowed", "no"));
        ch.writeInbound(bytes("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345"));
        assertThat(readAll(ch)).startsWith("HTTP/1.1 403 Forbidden").contains("connection: close");
        assertThat(ch.isOpen()).isFalse();
        ch.finishAndReleaseAll();
    }

    @Test
    void malformedRequestGets400AndCloses() {
        EmbeddedChannel ch = channel((c, r) -> {
            throw new AssertionError("a malformed request must never be routed");
        });
        ch.writeInbound(bytes("GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n"));
        assertThat(readAll(ch)).startsWith("HTTP/1.1 400 Bad Request").contains("x-ward-reason: bad_request");
        assertThat(ch.isOpen()).isFalse();
        ch.finishAndReleaseAll();
    }

    /** The 400 says what was wrong, in the decoder's words, and nothing of Ward's internals. */
    @Test
    void aMalformedRequestsReplyNamesWhatIsWrong() {
        Route.Router never = (c, r) -> {
            throw new AssertionError("a malformed request must never be routed");
        };
        String[][] cases = {
            {"GET /a HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", "invalid character 0x20 at index 3 of header 'Bad Name'"},
            {"GET /a HTTP/1.1\r\nHost: x\r\nx-a: \u0001\r\n\r\n", "Validation failed for header 'x-a': a header value contains prohibited character 0x1"},
            {"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "Content-Length are not allowed"},
        };
        for (String[] c : cases) {
            EmbeddedChannel ch = channel(never);
            ch.writeInbound(bytes(c[0]));
            String out = readAll(ch);
            assertThat(out).as(c[0]).startsWith("HTTP/1.1 400 Bad Request").contains("\"message\":\"malformed request: ")
                    .contains(c[1]).doesNotContain("Exception").doesNotContain("dev.ward");
            ch.finishAndReleaseAll();
        }
        assertThat(ProxyHandler.malformed(new IllegalArgumentException("x".repeat(1000)))).hasSize(240).endsWith("...");
    }

    @Test
    void aRouterThatThrowsBecomesA500NotAStackTrace() {
        EmbeddedChannel ch = channel((c, r) -> {
            throw new IllegalStateException("secret internals");
        });
        ch.writeInbound(bytes("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
        assertThat(readAll(ch)).startsWith("HTTP/1.1 500 ").doesNotContain("secret internals").doesNotContain("Exception");
        assertThat(ch.finishAndReleaseAll()).isFalse();
    }

    @Test
    void drainingClosesAfterTheReply() throws Exception {
        EmbeddedChannel ch = channel((c, r) -> new Route.Reply(HttpResponseStatus.NOT_FOUND, "no_route", "no"));
        ch.pipeline().fireUserEventTriggered(Drain.EVENT);
        assertThat(ch.isOpen()).isFalse(); // idle HTTP/1.1 connection: closed at once
        ch.finishAndReleaseAll();
    }

    /**
     * A request's write to the backend has no promise of its own: when it fails, the failure comes
     * as an exception on the backend's connection, where its {@link Http1Upstream} closes it, and the
     * caller gets a 502 naming the reset, not silence.
     */
    @Test
    void aFailedWriteToTheBackendClosesItAndTheCallerGetsA502() {
        List<Boolean> voidPromises = new ArrayList<>();
        EmbeddedChannel up = new EmbeddedChannel(new io.netty.channel.ChannelOutboundHandlerAdapter() {
            @Override
            public void write(io.netty.channel.ChannelHandlerContext ctx, Object msg, io.netty.channel.ChannelPromise p) {
                voidPromises.add(p.isVoid());
                io.netty.util.ReferenceCountUtil.release(msg);
                p.setFailure(new java.io.IOException("Broken pipe"));
            }
        });
        Route forward = new Route.Forward(backend(up));
        EmbeddedChannel ch = channel((c, r) -> forward);
        ch.writeInbound(bytes("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
        up.runPendingTasks();
        ch.runPendingTasks();
        assertThat(voidPromises).containsExactly(true);
        assertThat(up.isOpen()).as("the backend connection whose write failed").isFalse();
        assertThat(readAll(ch)).startsWith("HTTP/1.1 502 ").contains("x-ward-reason: upstream_reset");
        assertThat(log()).containsExactly("502 GET /a upstream_reset");
        assertThat(ch.isOpen()).as("the caller's connection lives on").isTrue();
        ch.finishAndReleaseAll();
    }

    /** The access log (and span) name the path as routed: the router's rewrite if it made one, else the path as it arrived. */
    @Test
    void theRecordedPathIsThePathAsRouted() {
        for (String[] c : new String[][] {{"/a/../b?x=1", "/b?x=1", "/b"}, {"/c?y=2", null, "/c"}}) {
            accessLog.reset();
            EmbeddedChannel up = new EmbeddedChannel();
            Route forward = new Route.Forward(backend(up));
            EmbeddedChannel ch = channel((chan, r) -> {
                if (c[1] != null) {
                    r.setUri(c[1]); // as the inbound router sets the normalized target
                }
                return forward;
            });
            ch.writeInbound(bytes("GET " + c[0] + " HTTP/1.1\r\nHost: x\r\n\r\n"));
            io.netty.util.ReferenceCountUtil.release(up.readOutbound());
            var res = new io.netty.handler.codec.http.DefaultFullHttpResponse(io.netty.handler.codec.http.HttpVersion.HTTP_1_1,
                    HttpResponseStatus.OK, Unpooled.EMPTY_BUFFER);
            res.headers().set("content-length", 0);
            up.writeInbound(res);
            assertThat(readAll(ch)).startsWith("HTTP/1.1 200 OK");
            assertThat(log()).containsExactly("200 GET " + c[2] + " null");
            ch.finishAndReleaseAll();
        }
    }

    /** An EmbeddedChannel backend that records what is written to it. */
    static Backend backend(EmbeddedChannel up) {
        return new Backend() {
            @Override
            public String name() {
                return "app";
            }

            @Override
            public io.netty.util.concurrent.Future<Upstream> acquire(io.netty.channel.EventLoop loop) {
                Http1Upstream u = Http1Upstream.of(up);
                return loop.newSucceededFuture(u != null ? u : Http1Upstream.addTo(up.pipeline()));
            }

            @Override
            public void release(Upstream u, boolean reusable) {
            }
        };
    }

    @Test
    void aLocalErrorReplySettlesTheAdmissionBeforeItLeaves() {
        // A caller that reads the 502 and asks again (or looks at /upstreams) must find the
        // breaker and the bulkhead slot already settled.
        var resilience = new dev.ward.proxy.resilience.Resilience(
                new dev.ward.proxy.config.SidecarConfig.Timeouts(null, null, null, null),
                new dev.ward.proxy.config.SidecarConfig.Retry(0, null, null, null, null, null, null));
        List<String> ended = new ArrayList<>();
        Backend refusing = new Backend() {
            @Override
            public String name() {
                return "orders";
            }

            @Override
            public io.netty.util.concurrent.Future<Upstream> acquire(io.netty.channel.EventLoop loop) {
                return loop.newFailedFuture(new BackendException(HttpResponseStatus.BAD_GATEWAY, "upstream_unavailable",
                        "orders refused the connection", null, dev.ward.proxy.resilience.Outcomes.CONNECT, java.util.Map.of()));
            }

            @Override
            public void release(Upstream u, boolean reusable) {
            }

            @Override
            public dev.ward.proxy.resilience.Resilience resilience() {
                return resilience;
            }

            @Override
            public io.netty.util.concurrent.Future<Admission> admit(io.netty.channel.EventLoop loop) {
                return loop.newSucceededFuture(new Admission() {
                    @Override
                    public void end(int status, String failure, long firstByteNanos) {
                        ended.add(status + " " + failure);
                    }

                    @Override
                    public void cancel() {
                        ended.add("cancel");
                    }
                });
            }
        };
        Route forward = new Route.Forward(refusing);
        EmbeddedChannel ch = channel((c, r) -> forward);
        List<String> settledAtWrite = new ArrayList<>();
        ch.pipeline().addFirst(new io.netty.channel.ChannelOutboundHandlerAdapter() {
            @Override
            public void write(io.netty.channel.ChannelHandlerContext ctx, Object msg, io.netty.channel.ChannelPromise p) {
                settledAtWrite.add(ended.toString());
                ctx.write(msg, p);
            }
        });
        ch.writeInbound(bytes("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
        assertThat(readAll(ch)).startsWith("HTTP/1.1 502 ").contains("x-ward-reason: upstream_unavailable");
        assertThat(settledAtWrite).isNotEmpty().allMatch("[0 connect]"::equals);
        assertThat(ended).containsExactly("0 connect");
        assertThat(ch.finishAndReleaseAll()).isFalse();
    }

    @Test
    void aRequestWithoutABodyGoesOutWholeInOneFlushAndTheDownstreamKeepsReading() {
        EmbeddedChannel up = new EmbeddedChannel();
        Route forward = new Route.Forward(backend(up));
        EmbeddedChannel ch = channel((c, r) -> forward);
        ch.writeInbound(bytes("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
        // One message, a whole request (over HTTP/2 one HEADERS frame with END_STREAM), not a head and an empty end.
        Object first = up.readOutbound();
        assertThat(first).isInstanceOf(io.netty.handler.codec.http.FullHttpRequest.class);
        assertThat(((io.netty.handler.codec.http.FullHttpRequest) first).uri()).isEqualTo("/a");
        io.netty.util.ReferenceCountUtil.release(first);
        assertThat((Object) up.readOutbound()).isNull();
        // Reading was never paused for it (each pause and resume is an epoll_ctl call).
        assertThat(ch.config().isAutoRead()).isTrue();

        // The response comes back; the next request on the connection is forwarded the same way.
        var res = new io.netty.handler.codec.http.DefaultFullHttpResponse(io.netty.handler.codec.http.HttpVersion.HTTP_1_1,
                HttpResponseStatus.OK, Unpooled.copiedBuffer("ok", StandardCharsets.US_ASCII));
        res.headers().set("content-length", 2);
        up.writeInbound(res);
        assertThat(readAll(ch)).startsWith("HTTP/1.1 200 OK").endsWith("ok");
        ch.writeInbound(bytes("GET /b HTTP/1.1\r\nHost: x\r\n\r\n"));
        Object second = up.readOutbound();
        assertThat(second).isInstanceOf(io.netty.handler.codec.http.FullHttpRequest.class);
        io.netty.util.ReferenceCountUtil.release(second);
        assertThat(log()).containsExactly("200 GET /a null");
    }
}
