package dev.ward.proxy.http;

import dev.ward.proxy.tls.PeerIdentity;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.util.ArrayDeque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Forwards HTTP exchanges from one downstream channel (an HTTP/1.1 connection, or one HTTP/2
 * stream) to the backend its {@link Route.Router} picks, one exchange at a time, streaming
 * bodies both ways with back-pressure: when one side cannot take more, reading from the other
 * side stops until it can ({@code AUTO_READ} off, as Netty's {@code HexDumpProxy} does).
 *
 * <p>Consumes {@link HttpObject}s and emits them, rewritten for the next hop, to the backend
 * channel; the backend's response comes back through a per-exchange relay handler and is written
 * here. Ownership of every message passes on with the write; messages that go nowhere (a
 * denied request's body, a stale response) are released here.
 *
 * <p>On failure it never throws to the peer: a malformed request gets 400 (431/414 when too
 * long) and the connection closes; a backend that cannot be reached gets a local 502 with a
 * reason code; a backend that dies mid-response closes the downstream connection (HTTP/1.1) or
 * resets the stream (HTTP/2), so the client can tell the response is incomplete.
 *
 * <p>All state is confined to the downstream channel's event loop; backends hand out channels
 * on that same loop, so no locks are needed.
 */
public final class ProxyHandler extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(ProxyHandler.class);
    private static final String RELAY = "ward-relay";

    private final Route.Router router;
    private final boolean http2Stream;
    private final String direction;
    private final Drain drain;
    private final ExchangeLog exchangeLog;

    private ChannelHandlerContext ctx;
    private Exchange ex;
    /** Messages of a later, pipelined request, held until the current exchange ends. */
    private final ArrayDeque<HttpObject> pending = new ArrayDeque<>();
    /** Dropping the rest of a request body that will never be forwarded. */
    private boolean discarding;
    /** HTTP/1.1: close the connection once the current response is written. */
    private boolean closeAfterResponse;
    private boolean needsFlush;

    public ProxyHandler(Route.Router router, boolean http2Stream, String direction, Drain drain, ExchangeLog exchangeLog) {
        this.router = router;
        this.http2Stream = http2Stream;
        this.direction = direction;
        this.drain = drain;
        this.exchangeLog = exchangeLog;
    }

    /** One request and its response. */
    private final class Exchange {
        final HttpRequest request;
        final Backend backend;
        final boolean keepAlive;
        final boolean head;
        final String method;
        final String path;
        final String rule;
        final long start = System.nanoTime();
        /** Body pieces that arrived before the backend channel; allocated only when needed. */
        ArrayDeque<HttpContent> early;
        Channel backendCh;
        boolean requestWritten;
        boolean requestDone;
        boolean responseStarted;
        boolean responseDone;
        boolean informational;
        boolean backendKeepAlive = true;
        boolean ended;
        /** No body: the request object is held (one extra reference) so it can be sent again once. */
        boolean replayable;
        boolean retried;
        boolean reusedConnection;
        boolean refusedStream;
        int status;

        Exchange(HttpRequest request, Backend backend, boolean keepAlive, String rule) {
            this.request = request;
            this.backend = backend;
            this.rule = rule;
            this.keepAlive = keepAlive;
            this.head = HttpMethod.HEAD.equals(request.method());
            this.method = request.method().name();
            this.path = pathOf(request.uri());
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof HttpObject obj)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if ((ex != null && ex.requestDone) || !pending.isEmpty()) {
            // A pipelined request: hold it (and stop reading) until this response is done.
            pending.add(obj);
            ctx.channel().config().setAutoRead(false);
            return;
        }
        handle(obj);
    }

    private void handle(HttpObject obj) {
        if (obj instanceof HttpRequest req) {
            if (ex != null) { // cannot happen with a well-behaved codec; never forward it
                ReferenceCountUtil.release(req);
                return;
            }
            discarding = false;
            startExchange(req);
            return;
        }
        HttpContent content = (HttpContent) obj;
        if (discarding || ex == null) {
            if (content instanceof LastHttpContent) {
                discarding = false;
            }
            content.release();
            return;
        }
        if (content.decoderResult().isFailure()) {
            content.release();
            log.debug("{}: malformed request body from {}: {}", direction, ctx.channel().remoteAddress(),
                    content.decoderResult().cause().toString());
            abort("request_malformed");
            return;
        }
        forwardBody(content);
    }

    private void startExchange(HttpRequest req) {
        DecoderResult dr = req.decoderResult();
        if (dr.isFailure()) {
            ReferenceCountUtil.release(req);
            badRequest(dr.cause());
            return;
        }
        if (http2Stream && drain.isDraining()) {
            // Draining: refuse new streams in a way clients may safely retry elsewhere.
            ReferenceCountUtil.release(req);
            discarding = !(req instanceof LastHttpContent);
            ctx.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.REFUSED_STREAM));
            return;
        }
        boolean hasBody = Headers.hasBody(req, http2Stream);
        boolean full = req instanceof LastHttpContent;
        boolean keepAlive = http2Stream || (HttpUtil.isKeepAlive(req) && !drain.isDraining());
        Route route;
        try {
            route = router.route(ctx.channel(), req);
        } catch (RuntimeException e) {
            log.error("{}: router failed on {} {}", direction, req.method(), pathOf(req.uri()), e);
            route = new Route.Reply(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal_error", "internal error");
        }
        if (route instanceof Route.Reply r) {
            String method = req.method().name();
            String path = pathOf(req.uri());
            ReferenceCountUtil.release(req);
            discarding = !full;
            // An HTTP/1.1 body we will not forward is not worth reading: close instead.
            boolean close = !http2Stream && (!keepAlive || (!full && hasBody));
            long start = System.nanoTime();
            drain.exchangeStarted();
            localReply(r.status(), r.reason(), r.message(), close, r.headers());
            drain.exchangeEnded();
            exchangeLog.record(direction, PeerIdentity.of(ctx.channel()), method, path, r.status().code(),
                    System.nanoTime() - start, null, r.reason(), null);
            return;
        }
        Route.Forward forward = (Route.Forward) route;
        Backend backend = forward.backend();
        Exchange e = new Exchange(req, backend, keepAlive, forward.rule());
        ex = e;
        drain.exchangeStarted();
        Headers.prepareForNextHop(req, hasBody);
        if (full) {
            e.requestDone = true;
        }
        if (!hasBody) {
            e.replayable = true;
            ReferenceCountUtil.retain(req);
        }
        // Hold the downstream until the backend is ready; later body pieces wait in `early`.
        ctx.channel().config().setAutoRead(false);
        Future<Channel> f = backend.acquire(ctx.channel().eventLoop());
        if (f.isDone()) {
            onBackend(e, f);
        } else {
            f.addListener(x -> onBackend(e, f));
        }
    }

    private void onBackend(Exchange e, Future<Channel> f) {
        if (e != ex || e.ended) {
            if (f.isSuccess()) {
                e.backend.release(f.getNow(), false);
            }
            return;
        }
        if (!f.isSuccess()) {
            BackendException be = f.cause() instanceof BackendException b ? b
                    : new BackendException(HttpResponseStatus.BAD_GATEWAY, "upstream_unavailable",
                            e.backend.name() + " is unavailable", f.cause());
            failBeforeResponse(e, be.status(), be.reason(), be.getMessage());
            return;
        }
        Channel bc = f.getNow();
        e.backendCh = bc;
        e.reusedConnection = Boolean.TRUE.equals(bc.attr(ConnectionPool.REUSED).get());
        if (bc.pipeline().get(ConnectionPool.GUARD) != null) {
            bc.pipeline().addBefore(ConnectionPool.GUARD, RELAY, new ResponseRelay(e));
        } else {
            bc.pipeline().addLast(RELAY, new ResponseRelay(e));
        }
        e.requestWritten = true;
        bc.write(e.request).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
        if (e.early != null) {
            for (HttpContent c; (c = e.early.poll()) != null; ) {
                bc.write(c).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
            }
        }
        bc.flush();
        bc.config().setAutoRead(true);
        if (!e.requestDone && bc.isWritable()) {
            ctx.channel().config().setAutoRead(true);
        }
    }

    private void forwardBody(HttpContent content) {
        Exchange e = ex;
        boolean last = content instanceof LastHttpContent;
        if (last) {
            e.requestDone = true;
        }
        if (e.backendCh == null) {
            if (e.early == null) {
                e.early = new ArrayDeque<>(4);
            }
            e.early.add(content);
            return;
        }
        e.backendCh.write(content).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
        needsFlush = true;
        if (last) {
            e.backendCh.flush();
            needsFlush = false;
            if (!http2Stream) {
                ctx.channel().config().setAutoRead(false); // next request waits for this response
            }
        } else if (!e.backendCh.isWritable()) {
            needsFlush = false;
            pauseUntilWritable(ctx.channel(), e.backendCh);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (needsFlush && ex != null && ex.backendCh != null) {
            ex.backendCh.flush();
        }
        needsFlush = false;
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable() && ex != null && ex.backendCh != null && !ex.responseDone) {
            ex.backendCh.config().setAutoRead(true);
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt == Drain.EVENT && !http2Stream) {
            if (ex == null) {
                ctx.close();
            } else {
                closeAfterResponse = true;
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        for (HttpObject o; (o = pending.poll()) != null; ) {
            ReferenceCountUtil.release(o);
        }
        Exchange e = ex;
        if (e != null) {
            log.debug("{}: downstream {} closed during {} {}", direction, ctx.channel().remoteAddress(), e.method, e.path);
            releaseBackend(e, false);
            endExchange(e, e.responseStarted ? e.status : 499, "downstream_closed");
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("{}: closing {} after error: {}", direction, ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }

    // --- replies and endings ---

    private void badRequest(Throwable cause) {
        HttpResponseStatus status = HttpResponseStatus.BAD_REQUEST;
        String reason = "bad_request";
        if (cause instanceof TooLongHttpLineException) {
            status = HttpResponseStatus.REQUEST_URI_TOO_LONG;
            reason = "request_line_too_long";
        } else if (cause instanceof TooLongHttpHeaderException || cause instanceof TooLongFrameException) {
            status = HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE;
            reason = "headers_too_large";
        }
        log.debug("{}: malformed request from {}: {}", direction, ctx.channel().remoteAddress(), cause.toString());
        discarding = true;
        localReply(status, reason, "malformed request", true);
        exchangeLog.record(direction, PeerIdentity.of(ctx.channel()), "-", "-", status.code(), 0, null, reason, null);
    }

    private void localReply(HttpResponseStatus status, String reason, String message, boolean close) {
        localReply(status, reason, message, close, java.util.Map.of());
    }

    private void localReply(HttpResponseStatus status, String reason, String message, boolean close,
                            java.util.Map<String, String> headers) {
        HttpResponse r = LocalReplies.json(ctx.alloc(), status, reason, message);
        headers.forEach((k, v) -> r.headers().set(k, v));
        boolean closing = close || (!http2Stream && drain.isDraining());
        if (closing && !http2Stream) {
            r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        ChannelFuture f = ctx.writeAndFlush(r);
        if (closing) {
            f.addListener(ChannelFutureListener.CLOSE);
        }
    }

    private void failBeforeResponse(Exchange e, HttpResponseStatus status, String reason, String message) {
        releaseEarly(e);
        boolean close = !http2Stream && (!e.requestDone || !e.keepAlive);
        if (!e.requestDone) {
            discarding = true;
        }
        localReply(status, reason, message, close || closeAfterResponse);
        e.status = status.code();
        endExchange(e, status.code(), reason);
        if (!close && !closeAfterResponse) {
            resumeAfterExchange();
        }
    }

    /** The request itself went wrong mid-stream: drop both sides. */
    private void abort(String reason) {
        Exchange e = ex;
        releaseBackend(e, false);
        endExchange(e, 400, reason);
        ctx.close();
    }

    private void releaseEarly(Exchange e) {
        if (e.early != null) {
            for (HttpContent c; (c = e.early.poll()) != null; ) {
                c.release();
            }
        }
        if (!e.requestWritten) {
            e.requestWritten = true; // released once, here
            ReferenceCountUtil.release(e.request);
        }
    }

    private void releaseBackend(Exchange e, boolean reusable) {
        releaseEarly(e);
        Channel bc = e.backendCh;
        if (bc != null) {
            e.backendCh = null;
            if (bc.pipeline().get(RELAY) != null) {
                bc.pipeline().remove(RELAY);
            }
            e.backend.release(bc, reusable && bc.isActive());
        }
    }

    private void endExchange(Exchange e, int status, String reason) {
        if (e.ended) {
            return;
        }
        e.ended = true;
        if (e.replayable) {
            e.replayable = false;
            ReferenceCountUtil.release(e.request); // the reference held for a replay that was not needed
        }
        if (ex == e) {
            ex = null;
        }
        drain.exchangeEnded();
        exchangeLog.record(direction, PeerIdentity.of(ctx.channel()), e.method, e.path, status,
                System.nanoTime() - e.start, e.backend.name(), reason, e.rule);
    }

    private void resumeAfterExchange() {
        if (http2Stream || !ctx.channel().isActive()) {
            return;
        }
        ctx.channel().config().setAutoRead(true);
        while (ex == null && !pending.isEmpty() && ctx.channel().isActive()) {
            handle(pending.poll());
        }
        if (ex != null && !pending.isEmpty()) {
            // Body pieces of the request just started: feed them in order.
            while (!pending.isEmpty() && ex != null && !ex.requestDone) {
                handle(pending.poll());
            }
        }
    }

    /**
     * Stops reading {@code from} while {@code to} cannot take more, then flushes {@code to}.
     * Reading resumes on {@code to}'s writability change. The order matters: a flush on loopback
     * can drain at once and fire that change <em>during</em> the flush, so reading is turned off
     * first and re-checked after, never the other way round (which would stall for good).
     */
    private static void pauseUntilWritable(Channel from, Channel to) {
        from.config().setAutoRead(false);
        to.flush();
        if (to.isWritable()) {
            from.config().setAutoRead(true);
        }
    }

    /**
     * A request may be sent again, once, on a fresh connection when it provably was not processed
     * (the server refused the stream) or when it is idempotent, has no body, and its connection was
     * a reused one that the server closed before answering: the keep-alive race every HTTP client
     * meets. Nothing of the response may have been relayed yet.
     */
    private boolean mayRetry(Exchange e) {
        if (e.retried || !e.replayable || e.responseStarted || !ctx.channel().isActive()) {
            return false;
        }
        return e.refusedStream || (e.reusedConnection && isIdempotent(e.request.method()));
    }

    private static boolean isIdempotent(HttpMethod m) {
        return HttpMethod.GET.equals(m) || HttpMethod.HEAD.equals(m) || HttpMethod.OPTIONS.equals(m)
                || HttpMethod.PUT.equals(m) || HttpMethod.DELETE.equals(m) || HttpMethod.TRACE.equals(m);
    }

    private void retry(Exchange e) {
        log.debug("{}: {} closed a {} connection before answering {} {}; sending it once more on a fresh one",
                direction, e.backend.name(), e.refusedStream ? "refusing" : "reused", e.method, e.path);
        releaseBackend(e, false);
        e.retried = true;
        e.replayable = false;      // the held reference is spent on the second write
        e.requestWritten = false;
        e.refusedStream = false;
        if (!(e.request instanceof LastHttpContent)) {
            e.early = new ArrayDeque<>(1);
            e.early.add(LastHttpContent.EMPTY_LAST_CONTENT);
        }
        Future<Channel> f = e.backend.acquire(ctx.channel().eventLoop());
        if (f.isDone()) {
            onBackend(e, f);
        } else {
            f.addListener(x -> onBackend(e, f));
        }
    }

    static String pathOf(String uri) {
        int q = uri.indexOf('?');
        return q < 0 ? uri : uri.substring(0, q);
    }

    /**
     * Relays one exchange's response from the backend channel to the downstream. Added to the
     * backend pipeline for the exchange and removed when it ends.
     */
    private final class ResponseRelay extends ChannelInboundHandlerAdapter {
        private final Exchange e;

        ResponseRelay(Exchange e) {
            this.e = e;
        }

        @Override
        public void channelRead(ChannelHandlerContext bctx, Object msg) {
            if (e != ex || e.responseDone || !(msg instanceof HttpObject)) {
                ReferenceCountUtil.release(msg);
                return;
            }
            Channel bc = bctx.channel();
            if (msg instanceof HttpResponse res) {
                if (res.decoderResult().isFailure()) {
                    ReferenceCountUtil.release(res);
                    log.warn("{}: malformed response from {}: {}", direction, e.backend.name(), res.decoderResult().cause().toString());
                    bc.close();
                    return;
                }
                int code = res.status().code();
                e.informational = code >= 100 && code < 200;
                if (e.informational) {
                    Headers.prepareForNextHop(res, false);
                } else {
                    e.status = code;
                    e.responseStarted = true;
                    e.backendKeepAlive = bc instanceof Http2StreamChannel || HttpUtil.isKeepAlive(res);
                    boolean hasBody = !e.head && code != 204 && code != 304
                            && Headers.hasBody(res, bc instanceof Http2StreamChannel);
                    if (e.head) {
                        boolean cl = HttpUtil.isContentLengthSet(res);
                        Headers.prepareForNextHop(res, false);
                        if (!cl) {
                            res.headers().remove(HttpHeaderNames.CONTENT_LENGTH);
                        }
                    } else {
                        Headers.prepareForNextHop(res, hasBody);
                    }
                    if (!http2Stream && (closeAfterResponse || !e.keepAlive || drain.isDraining())) {
                        closeAfterResponse = true;
                        res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                    }
                }
            }
            if (msg instanceof LastHttpContent) {
                if (e.informational) {
                    e.informational = false;
                    ctx.writeAndFlush(msg, ctx.voidPromise());
                    return;
                }
                e.responseDone = true;
                ChannelFuture wf = ctx.writeAndFlush(msg);
                finish(wf);
                return;
            }
            ctx.write(msg, ctx.voidPromise());
            if (!ctx.channel().isWritable()) {
                pauseUntilWritable(bc, ctx.channel());
            }
        }

        private void finish(ChannelFuture lastWrite) {
            boolean requestWasDone = e.requestDone;
            releaseBackend(e, e.backendKeepAlive && requestWasDone);
            if (!requestWasDone) {
                // The backend answered before the request body ended: drop the rest.
                discarding = true;
                if (!http2Stream) {
                    closeAfterResponse = true;
                }
            }
            endExchange(e, e.status, null);
            if (!http2Stream && closeAfterResponse) {
                lastWrite.addListener(ChannelFutureListener.CLOSE);
                return;
            }
            resumeAfterExchange();
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext bctx) {
            if (e == ex) {
                ctx.flush();
            }
            bctx.fireChannelReadComplete();
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext bctx) {
            if (bctx.channel().isWritable() && e == ex && !e.requestDone) {
                ctx.channel().config().setAutoRead(true);
            }
            bctx.fireChannelWritabilityChanged();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext bctx, Object evt) {
            if (evt instanceof Http2ResetFrame rst && rst.errorCode() == Http2Error.REFUSED_STREAM.code()) {
                e.refusedStream = true;
                e.backend.retire(bctx.channel());
            }
            bctx.fireUserEventTriggered(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext bctx) {
            if (e == ex && !e.responseDone && mayRetry(e)) {
                bctx.fireChannelInactive();
                retry(e);
                return;
            }
            if (e == ex && !e.responseDone) {
                log.info("{}: {} closed the connection during {} {} ({})", direction, e.backend.name(), e.method, e.path,
                        e.responseStarted ? "response truncated" : "no response");
                releaseBackend(e, false);
                if (!e.responseStarted) {
                    failBeforeResponse(e, HttpResponseStatus.BAD_GATEWAY, "upstream_reset",
                            e.backend.name() + " closed the connection before responding");
                } else {
                    endExchange(e, e.status, "upstream_reset");
                    ctx.close(); // HTTP/1.1: the client sees a truncated body; HTTP/2: RST_STREAM
                }
            }
            bctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext bctx, Throwable cause) {
            log.debug("{}: error on connection to {}: {}", direction, e.backend.name(), cause.toString());
            bctx.close();
        }
    }
}
