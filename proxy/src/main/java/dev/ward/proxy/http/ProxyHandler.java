package dev.ward.proxy.http;

import dev.ward.proxy.tls.PeerIdentity;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.EmptyHttpHeaders;
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
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import dev.ward.proxy.resilience.Outcomes;
import dev.ward.telemetry.RequestRecord;
import dev.ward.telemetry.RequestTelemetry;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Forwards HTTP exchanges from one {@link Downstream} (an HTTP/1.1 connection, as the handler at
 * the end of its pipeline; or one HTTP/2 stream, handed its frames by {@link Http2Streams}) to the
 * backend its {@link Route.Router} picks, one exchange at a time, streaming bodies both ways with
 * back-pressure: when one side cannot take more, reading from the other side stops until it can
 * ({@code AUTO_READ} off, as Netty's {@code HexDumpProxy} does).
 *
 * <p>Consumes {@link HttpObject}s and emits them, rewritten for the next hop, to the backend's
 * {@link Upstream}; the backend's response comes back to the exchange, which the upstream relays
 * to, and is written here. Ownership of every message passes on with the write; messages that go nowhere (a
 * denied request's body, a stale response) are released here.
 *
 * <p>On failure it never throws to the peer: a malformed request gets 400 (431/414 when too
 * long) and the connection closes; a backend that cannot be reached gets a local 502 with a
 * reason code; a backend that dies mid-response closes the downstream connection (HTTP/1.1) or
 * resets the stream (HTTP/2), so the client can tell the response is incomplete.
 *
 * <p>All state is confined to the downstream connection's event loop; backends hand out upstreams
 * on that same loop, so no locks are needed.
 */
public final class ProxyHandler extends ChannelInboundHandlerAdapter implements Http2Streams.StreamHandler {

    private static final Logger log = LoggerFactory.getLogger(ProxyHandler.class);

    private final Route.Router router;
    private final boolean http2Stream;
    private final String direction;
    private final Drain drain;
    private final RequestTelemetry telemetry;

    /** The caller's side: this handler's channel, or the HTTP/2 stream it was {@link #attach attached} to. */
    private Downstream down;
    private Exchange ex;
    /**
     * Messages of a later, pipelined request, held until the current exchange ends; made when
     * first needed (HTTP/1.1 pipelining is rare, and an HTTP/2 stream, one handler each, never has any).
     */
    private ArrayDeque<HttpObject> pending;
    /** The request just started had no body and was sent whole: drop the empty end the codec delivers next. */
    private boolean swallowEmptyLast;
    /** Dropping the rest of a request body that will never be forwarded. */
    private boolean discarding;
    /** HTTP/1.1: close the connection once the current response is written. */
    private boolean closeAfterResponse;
    private boolean needsFlush;

    /**
     * {@code direction} names the listener in logs; {@code telemetry} gets one record per request
     * (span, metrics, access log line).
     */
    public ProxyHandler(Route.Router router, boolean http2Stream, String direction, Drain drain, RequestTelemetry telemetry) {
        this.router = router;
        this.http2Stream = http2Stream;
        this.direction = direction;
        this.drain = drain;
        this.telemetry = telemetry;
    }

    /** One request and its response; the relay of the upstream each of its tries uses. */
    private final class Exchange implements Upstream.Relay {
        final HttpRequest request;
        final Backend backend;
        final boolean keepAlive;
        final boolean head;
        /** The request's span, metrics and access log line; also its method and path (as routed). */
        final RequestRecord rec;
        /** Body pieces that arrived before the upstream; allocated only when needed. */
        ArrayDeque<HttpContent> early;
        /** The current try's upstream; null between tries. */
        Upstream up;
        boolean requestWritten;
        boolean requestDone;
        boolean responseStarted;
        boolean responseDone;
        boolean informational;
        boolean backendKeepAlive = true;
        boolean ended;
        /**
         * The request can be sent again: its object is held (one extra reference) and its body is
         * absent or, so far, all kept in {@link #replay}.
         */
        boolean replayable;
        /** Retained copies of the body pieces forwarded so far; null when there is no body to keep. */
        ReplayBuffer replay;
        /** Tries after the first, made under the retry rules. */
        int retries;
        /** The one free replay of a request the server provably did not process (or the keep-alive race) is spent. */
        boolean raceRetried;
        boolean reusedConnection;
        boolean refusedStream;
        int status;
        /** Timeouts, retry rules; null for the local app. */
        final dev.ward.proxy.resilience.Resilience res;
        /** The backend's admission of this request (breaker permit, bulkhead slot); null until admitted and once settled. */
        Admission admission;
        /** An admission or a connection being waited for; cancelled if the exchange ends first. */
        Future<?> waitingFor;
        TimeoutQueue.Timeout tryTimer;
        TimeoutQueue.Timeout totalTimer;
        /** How the latest try failed ({@code connect}, {@code reset}, {@code timeout}...), null if it did not. */
        String failure;
        long firstByteAt;
        boolean tryRecorded;

        Exchange(HttpRequest request, Backend backend, boolean keepAlive, RequestRecord rec) {
            this.request = request;
            this.backend = backend;
            this.rec = rec;
            this.keepAlive = keepAlive;
            this.head = HttpMethod.HEAD.equals(request.method());
            this.res = backend.resilience();
        }

        /**
         * Whether {@code from} is the current try's upstream: an upstream is released (its relay
         * cleared) when its try ends, but an event it was already delivering, or one a fake backend
         * sends, must not reach a later try.
         */
        private boolean current(Upstream from) {
            return this == ex && from == this.up;
        }

        @Override
        public void read(Upstream from, Object msg) {
            if (!current(from) || this.responseDone || !(msg instanceof HttpObject)) {
                ReferenceCountUtil.release(msg);
                return;
            }
            if (msg instanceof HttpResponse res) {
                if (res.decoderResult().isFailure()) {
                    ReferenceCountUtil.release(res);
                    log.warn("{}: malformed response from {}: {}", direction, this.backend.name(), res.decoderResult().cause().toString());
                    from.close();
                    return;
                }
                int code = res.status().code();
                this.informational = code >= 100 && code < 200;
                if (!this.informational && this.res != null) {
                    this.firstByteAt = System.nanoTime();
                    if (this.tryTimer != null) {
                        this.tryTimer.cancel();
                        this.tryTimer = null;
                    }
                    if (this.res.retriesStatus(code)) {
                        int retry = mayRetry(this, null, code);
                        if (retry != NO_RETRY) {
                            ReferenceCountUtil.release(res);
                            recordTry(this, code, null);
                            this.failure = null;
                            retry(this, retry == RETRY_NOW); // drops this connection with the rest of the response
                            return;
                        }
                    }
                }
                if (this.informational) {
                    Headers.prepareForNextHop(res, false);
                } else {
                    this.status = code;
                    this.responseStarted = true;
                    this.backendKeepAlive = from.multiplexed() || HttpUtil.isKeepAlive(res);
                    boolean hasBody = !this.head && code != 204 && code != 304
                            && Headers.hasBody(res, from.multiplexed());
                    if (this.head) {
                        boolean cl = HttpUtil.isContentLengthSet(res);
                        Headers.prepareForNextHop(res, false);
                        if (!cl) {
                            res.headers().remove(HttpHeaderNames.CONTENT_LENGTH);
                        }
                    } else {
                        Headers.prepareForNextHop(res, hasBody);
                    }
                    if (!http2Stream && (closeAfterResponse || !this.keepAlive || drain.isDraining())) {
                        closeAfterResponse = true;
                        res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                    }
                }
            }
            if (msg instanceof HttpContent c && !this.informational) {
                this.rec.addBytesOut(c.content().readableBytes());
            }
            if (msg instanceof LastHttpContent) {
                if (this.informational) {
                    this.informational = false;
                    down.writeAndFlush((HttpObject) msg, false);
                    return;
                }
                this.responseDone = true;
                // Settle the outcome before the last byte leaves, so the caller's next request sees its effect.
                recordTry(this, this.status, null);
                settleAdmission(this, this.status, null);
                // A promise only when the connection closes once this last write is out; otherwise none is made.
                boolean closing = !http2Stream && (closeAfterResponse || !this.requestDone);
                down.writeAndFlush((HttpObject) msg, closing);
                finish(closing);
                return;
            }
            down.write((HttpObject) msg);
            if (!down.isWritable()) {
                pauseBackend(from);
            }
        }

        /** {@code closing}: what the caller computed before the last write, which closes the connection once out if so. */
        private void finish(boolean closing) {
            boolean requestWasDone = this.requestDone;
            recordTry(this, this.status, null);
            releaseBackend(this, this.backendKeepAlive && requestWasDone);
            if (!requestWasDone) {
                // The backend answered before the request body ended: drop the rest.
                discarding = true;
                if (!http2Stream) {
                    closeAfterResponse = true;
                }
            }
            endExchange(this, this.status, null);
            if (!http2Stream && closeAfterResponse) {
                assert closing : "closing after a response whose last write does not close";
                return;
            }
            resumeAfterExchange();
        }

        @Override
        public void readComplete(Upstream from) {
            if (current(from)) {
                down.flush();
            }
        }

        @Override
        public void writabilityChanged(Upstream from) {
            if (from.isWritable() && current(from) && !this.requestDone) {
                down.setAutoRead(true);
            }
        }

        @Override
        public void refused(Upstream from) {
            if (current(from)) {
                this.refusedStream = true;
            }
            this.backend.retire(from);
        }

        @Override
        public void inactive(Upstream from) {
            if (current(from) && !this.responseDone) {
                recordTry(this, this.responseStarted ? this.status : 0, Outcomes.RESET);
                this.failure = Outcomes.RESET;
                int retry = mayRetry(this, Outcomes.RESET, 0);
                if (retry != NO_RETRY) {
                    retry(this, retry == RETRY_NOW);
                    return;
                }
            }
            if (current(from) && !this.responseDone) {
                log.info("{}: {} closed the connection during {} {} ({})", direction, this.backend.name(), this.rec.method(), this.rec.path(),
                        this.responseStarted ? "response truncated" : "no response");
                releaseBackend(this, false);
                if (!this.responseStarted) {
                    failBeforeResponse(this, HttpResponseStatus.BAD_GATEWAY, "upstream_reset",
                            this.backend.name() + " closed the connection before responding");
                } else {
                    endExchange(this, this.status, "upstream_reset");
                    down.close(); // HTTP/1.1: the client sees a truncated body; HTTP/2: RST_STREAM
                }
            }
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (down == null) {
            down = Downstream.of(ctx);
        }
    }

    /** Serves {@code stream} rather than a channel of its own: {@link Http2Streams} hands it the stream's events. */
    @Override
    public void attach(Downstream stream) {
        this.down = stream;
    }

    /**
     * Not sharable, said without Netty's per-class lookup (a thread-local weak map): it is asked each
     * time a handler is added to a pipeline, once per HTTP/1.1 connection.
     */
    @Override
    public boolean isSharable() {
        return false;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        read(msg);
    }

    /** A message from the caller (an {@link HttpObject}; anything else is dropped). */
    @Override
    public void read(Object msg) {
        if (!(msg instanceof HttpObject obj)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (swallowEmptyLast && obj instanceof HttpContent c) {
            swallowEmptyLast = false;
            if (c instanceof LastHttpContent && !c.content().isReadable()) {
                c.release();
                return;
            }
        }
        if ((ex != null && ex.requestDone) || hasPending()) {
            // A pipelined request: hold it (and stop reading) until this response is done.
            if (pending == null) {
                pending = new ArrayDeque<>(4);
            }
            pending.add(obj);
            down.setAutoRead(false);
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
            log.debug("{}: malformed request body from {}: {}", direction, down.connection().remoteAddress(),
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
            down.refuse();
            return;
        }
        boolean hasBody = Headers.hasBody(req, http2Stream);
        boolean full = req instanceof LastHttpContent;
        if (!full && !hasBody) {
            // No body: only the empty end (LastHttpContent) follows. Send the request whole, in one write
            // and flush (over HTTP/2, one HEADERS frame with END_STREAM), and drop that end when it comes.
            req = new DefaultFullHttpRequest(req.protocolVersion(), req.method(), req.uri(), Unpooled.EMPTY_BUFFER,
                    req.headers(), EmptyHttpHeaders.INSTANCE);
            full = true;
            swallowEmptyLast = true;
        }
        boolean keepAlive = http2Stream || (HttpUtil.isKeepAlive(req) && !drain.isDraining());
        String arrived = req.uri();
        RequestRecord rec = telemetry.begin(req.method().name(), pathOf(arrived), TraceHeaders.traceparent(req.headers()),
                req.headers(), TraceHeaders.GETTER);
        if (telemetry.direction() == RequestTelemetry.Direction.INBOUND) {
            rec.peer(PeerIdentity.of(down.connection()));
        }
        if (rec.recording()) {
            describeDownstream(rec, req);
        }
        Route route;
        try {
            route = router.route(down.connection(), req, rec);
        } catch (RuntimeException e) {
            log.error("{}: router failed on {} {}", direction, req.method(), pathOf(req.uri()), e);
            route = new Route.Reply(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal_error", "internal error");
        }
        if (route instanceof Route.Reply r) {
            ReferenceCountUtil.release(req);
            discarding = !full;
            // An HTTP/1.1 body we will not forward is not worth reading: close instead.
            boolean close = !http2Stream && (!keepAlive || (!full && hasBody));
            drain.exchangeStarted();
            localReply(r.status(), r.reason(), r.message(), close, r.headers());
            drain.exchangeEnded();
            rec.end(r.status().code(), r.reason());
            return;
        }
        Route.Forward forward = (Route.Forward) route;
        Backend backend = forward.backend();
        if (req.uri() != arrived) { // routing rewrote it (a normalized path, an absolute URI made origin-form)
            rec.path(pathOf(req.uri()));
        }
        rec.upstream(backend.name());
        Exchange e = new Exchange(req, backend, keepAlive, rec);
        ex = e;
        drain.exchangeStarted();
        Headers.prepareForNextHop(req, hasBody);
        rec.inject(req.headers(), TraceHeaders.SETTER);
        if (full) {
            e.requestDone = true;
        }
        dev.ward.proxy.resilience.Resilience res = e.res;
        if (!hasBody) {
            e.replayable = true;
            ReferenceCountUtil.retain(req);
        } else if (res != null && res.retriesMethod(e.rec.method()) && fitsReplayBuffer(req, res.maxBufferedBody())) {
            e.replayable = true;
            e.replay = new ReplayBuffer();
            ReferenceCountUtil.retain(req);
        }
        if (!full) {
            // Hold the downstream until the backend is ready; later body pieces wait in `early`. A whole
            // request needs no hold (a pipelined one waits in `pending`), which spares the two epoll_ctl
            // calls per request that toggling autoRead costs.
            down.setAutoRead(false);
        }
        if (res == null) {
            startTry(e);
            return;
        }
        res.requestStarted();
        if (res.totalNanos() > 0) {
            e.totalTimer = TimeoutQueue.of(down.eventLoop(), res.totalNanos()).add(() -> onTotalTimeout(e));
        }
        armTryTimer(e);
        Future<Admission> f = backend.admit(down.eventLoop());
        if (f.isDone()) {
            onAdmitted(e, f);
        } else {
            e.waitingFor = f;
            f.addListener(x -> onAdmitted(e, f));
        }
    }

    /** Span attributes of the downstream side: the caller's address, the Host it asked for, our port. */
    private void describeDownstream(RequestRecord rec, HttpRequest req) {
        Channel conn = down.connection();
        if (telemetry.direction() == RequestTelemetry.Direction.INBOUND) {
            if (conn.remoteAddress() instanceof java.net.InetSocketAddress a) {
                rec.networkPeer(a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString(), a.getPort(),
                        http2Stream ? "2" : "1.1");
            }
            String host = req.headers().get(HttpHeaderNames.HOST);
            int port = conn.localAddress() instanceof java.net.InetSocketAddress l ? l.getPort() : 0;
            rec.server(host == null ? null : Headers.hostKey(host), port);
        }
    }

    /** Span attributes of the upstream side: where the try went, and what it speaks. */
    private static void describeUpstream(RequestRecord rec, Upstream up, HttpRequest req) {
        Channel conn = up.connection();
        if (conn.remoteAddress() instanceof java.net.InetSocketAddress a) {
            rec.networkPeer(a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString(), a.getPort(),
                    up.multiplexed() ? "2" : "1.1");
            String host = req.headers().get(HttpHeaderNames.HOST);
            rec.server(host == null ? a.getHostString() : Headers.hostKey(host), a.getPort());
        }
    }

    /** Whether a request body may be kept for a retry: its declared length is within the limit, or not known yet. */
    private static boolean fitsReplayBuffer(HttpRequest req, int max) {
        String cl = req.headers().get(HttpHeaderNames.CONTENT_LENGTH);
        if (cl == null) {
            return max > 0;
        }
        try {
            return Long.parseLong(cl.trim()) <= max;
        } catch (NumberFormatException x) {
            return false;
        }
    }

    private void onAdmitted(Exchange e, Future<Admission> f) {
        if (e != ex || e.ended || f.isCancelled()) {
            if (f.isSuccess()) {
                f.getNow().cancel();
            }
            return;
        }
        e.waitingFor = null;
        if (!f.isSuccess()) {
            BackendException be = f.cause() instanceof BackendException b ? b
                    : new BackendException(HttpResponseStatus.SERVICE_UNAVAILABLE, "upstream_unavailable",
                            e.backend.name() + " is unavailable", f.cause());
            failBeforeResponse(e, be.status(), be.reason(), be.getMessage(), be.headers());
            return;
        }
        e.admission = f.getNow();
        startTry(e);
    }

    /** Asks the backend for an upstream for one try of the exchange. */
    private void startTry(Exchange e) {
        e.tryRecorded = false;
        e.failure = null;
        Future<Upstream> f = e.admission != null ? e.backend.acquire(down.eventLoop(), e.admission)
                : e.backend.acquire(down.eventLoop());
        if (f.isDone()) {
            onBackend(e, f);
        } else {
            e.waitingFor = f;
            f.addListener(x -> onBackend(e, f));
        }
    }

    private void armTryTimer(Exchange e) {
        if (e.tryTimer != null) {
            e.tryTimer.cancel();
        }
        e.tryTimer = TimeoutQueue.of(down.eventLoop(), e.res.firstByteNanos()).add(() -> onTryTimeout(e));
    }

    /** No response headers within {@code timeouts.firstByte} of the try's start. */
    private void onTryTimeout(Exchange e) {
        if (e != ex || e.ended || e.responseStarted) {
            return;
        }
        e.res.timedOut();
        boolean admitted = e.admission != null;
        abandonTry(e, "timeout");
        int retry = admitted ? mayRetry(e, Outcomes.TIMEOUT, 0) : NO_RETRY;
        if (retry != NO_RETRY) {
            retry(e, retry == RETRY_NOW);
            return;
        }
        failBeforeResponse(e, HttpResponseStatus.GATEWAY_TIMEOUT, "upstream_timeout",
                e.backend.name() + " did not answer within " + millis(e.res.firstByteNanos()), java.util.Map.of());
    }

    /** The whole exchange took longer than {@code timeouts.total}. */
    private void onTotalTimeout(Exchange e) {
        if (e != ex || e.ended) {
            return;
        }
        e.res.timedOut();
        if (!e.responseStarted) {
            abandonTry(e, "timeout");
            failBeforeResponse(e, HttpResponseStatus.GATEWAY_TIMEOUT, "upstream_timeout",
                    e.backend.name() + " did not answer within " + millis(e.res.totalNanos()), java.util.Map.of());
            return;
        }
        recordTry(e, e.status, Outcomes.TIMEOUT);
        e.failure = Outcomes.TIMEOUT;
        releaseBackend(e, false);
        endExchange(e, e.status, "upstream_timeout");
        down.close(); // the response is cut short: HTTP/1.1 closes, HTTP/2 resets the stream
    }

    /** Ends the current try as failed in {@code failure}: stops waiting, records it, drops its upstream. */
    private void abandonTry(Exchange e, String failure) {
        if (e.waitingFor != null) {
            e.waitingFor.cancel(false);
            e.waitingFor = null;
        }
        recordTry(e, 0, failure);
        e.failure = failure;
        releaseBackend(e, false);
    }

    private static String millis(long nanos) {
        return dev.ward.proxy.config.Durations.format(java.time.Duration.ofNanos(nanos));
    }

    /** Tells the backend how the try on the current upstream ended; once per try. */
    private void recordTry(Exchange e, int status, String failure) {
        if (e.up != null && !e.tryRecorded) {
            e.tryRecorded = true;
            e.backend.record(e.up, status, failure, e.firstByteAt);
        }
    }

    private void onBackend(Exchange e, Future<Upstream> f) {
        if (e != ex || e.ended || f.isCancelled() || (e.waitingFor != null && e.waitingFor != f)) {
            if (f.isSuccess()) {
                e.backend.release(f.getNow(), false);
            }
            return;
        }
        e.waitingFor = null;
        if (!f.isSuccess()) {
            BackendException be = f.cause() instanceof BackendException b ? b
                    : new BackendException(HttpResponseStatus.BAD_GATEWAY, "upstream_unavailable",
                            e.backend.name() + " is unavailable", f.cause(), Outcomes.CONNECT, java.util.Map.of());
            e.failure = be.failure();
            int retry = be.failure() != null ? mayRetry(e, be.failure(), 0) : NO_RETRY;
            if (retry != NO_RETRY) {
                retry(e, retry == RETRY_NOW);
                return;
            }
            failBeforeResponse(e, be.status(), be.reason(), be.getMessage(), be.headers());
            return;
        }
        Upstream up = f.getNow();
        e.up = up;
        if (telemetry.direction() == RequestTelemetry.Direction.OUTBOUND) {
            e.rec.peer(PeerIdentity.of(up.connection()));
            if (e.rec.recording()) {
                describeUpstream(e.rec, up, e.request);
            }
        }
        e.reusedConnection = up.reused();
        up.relayTo(e);
        e.requestWritten = true;
        // A failed write closes the upstream, and the exchange hears it go (inactive).
        up.write(e.request);
        if (e.early != null) {
            for (HttpContent c; (c = e.early.poll()) != null; ) {
                up.write(c);
            }
        }
        up.flush();
        up.setAutoRead(true);
        if (!e.requestDone && up.isWritable()) {
            down.setAutoRead(true);
        }
    }

    private void forwardBody(HttpContent content) {
        Exchange e = ex;
        boolean last = content instanceof LastHttpContent;
        if (last) {
            e.requestDone = true;
        }
        e.rec.addBytesIn(content.content().readableBytes());
        if (e.replay != null) {
            keepForReplay(e, content);
        }
        Upstream up = e.up;
        if (up == null) {
            if (e.early == null) {
                e.early = new ArrayDeque<>(4);
            }
            e.early.add(content);
            return;
        }
        up.write(content); // a failure closes it: see onBackend
        needsFlush = true;
        if (last) {
            up.flush();
            needsFlush = false;
            if (!http2Stream) {
                down.setAutoRead(false); // next request waits for this response
            }
        } else if (!up.isWritable()) {
            needsFlush = false;
            pauseDownstream(up);
        }
    }

    /** Keeps a copy of a body piece for a retry, or stops keeping when the body outgrows the limit. */
    private void keepForReplay(Exchange e, HttpContent content) {
        ReplayBuffer r = e.replay;
        r.bytes += content.content().readableBytes();
        if (r.bytes <= e.res.maxBufferedBody()) {
            r.add(content.retainedDuplicate());
            return;
        }
        dropReplay(e);
    }

    /**
     * A request's body pieces kept for a retry, and their size: the count lives here rather than
     * in {@link Exchange}, which most requests (those without a body) make without one.
     */
    private static final class ReplayBuffer extends ArrayDeque<HttpContent> {
        long bytes;

        ReplayBuffer() {
            super(4);
        }
    }

    private static void dropReplay(Exchange e) {
        if (e.replay != null) {
            for (HttpContent c; (c = e.replay.poll()) != null; ) {
                c.release();
            }
            e.replay = null;
        }
        if (e.replayable) {
            e.replayable = false;
            ReferenceCountUtil.release(e.request); // the reference held for a replay that cannot happen now
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        readComplete();
        ctx.fireChannelReadComplete();
    }

    /** The caller's messages read in one go have all been {@link #read}: what went to the backend is flushed. */
    @Override
    public void readComplete() {
        if (needsFlush && ex != null && ex.up != null) {
            ex.up.flush();
        }
        needsFlush = false;
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        writabilityChanged();
        ctx.fireChannelWritabilityChanged();
    }

    /** The caller may take more (or less) now. */
    @Override
    public void writabilityChanged() {
        if (down.isWritable() && ex != null && ex.up != null && !ex.responseDone) {
            ex.up.setAutoRead(true);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt == Drain.EVENT && !http2Stream) {
            if (ex == null) {
                down.close();
            } else {
                closeAfterResponse = true;
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        inactive();
        ctx.fireChannelInactive();
    }

    /** The caller's side is gone: what is held is dropped, an exchange in progress ends. */
    @Override
    public void inactive() {
        for (HttpObject o; hasPending() && (o = pending.poll()) != null; ) {
            ReferenceCountUtil.release(o);
        }
        Exchange e = ex;
        if (e != null) {
            log.debug("{}: downstream {} closed during {} {}", direction, down.connection().remoteAddress(), e.rec.method(), e.rec.path());
            releaseBackend(e, false);
            endExchange(e, e.responseStarted ? e.status : 499, "downstream_closed");
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("{}: closing {} after error: {}", direction, down.connection().remoteAddress(), cause.toString());
        down.close();
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
        log.debug("{}: malformed request from {}: {}", direction, down.connection().remoteAddress(), cause.toString());
        discarding = true;
        localReply(status, reason, malformed(cause), true);
        telemetry.malformed(PeerIdentity.of(down.connection()), status.code(), reason);
    }

    /** At most this much of the decoder's words goes back to the caller. */
    private static final int MAX_MALFORMED_MESSAGE = 240;

    /**
     * What was wrong with a request, for the caller who sent it: the HTTP decoder's own words
     * (Netty names the header, the character and its index, or the limit), each cause once, without
     * exception class names, cut to {@value #MAX_MALFORMED_MESSAGE} characters. They describe the
     * caller's bytes, nothing of Ward's.
     */
    static String malformed(Throwable cause) {
        StringBuilder sb = new StringBuilder("malformed request");
        int depth = 0;
        for (Throwable t = cause; t != null && depth < 4; t = t.getCause(), depth++) {
            if (t instanceof io.netty.handler.codec.DecoderException && t.getCause() != null) {
                continue; // its message is its cause's toString()
            }
            String m = t.getMessage() == null ? "" : t.getMessage().strip();
            if (!m.isEmpty() && sb.indexOf(m) < 0) { // compared as appended, so a repeat is caught
                sb.append(": ").append(m);
            }
        }
        return sb.length() <= MAX_MALFORMED_MESSAGE ? sb.toString() : sb.substring(0, MAX_MALFORMED_MESSAGE - 3) + "...";
    }

    private void localReply(HttpResponseStatus status, String reason, String message, boolean close) {
        localReply(status, reason, message, close, java.util.Map.of());
    }

    private void localReply(HttpResponseStatus status, String reason, String message, boolean close,
                            java.util.Map<String, String> headers) {
        HttpResponse r = LocalReplies.json(down.alloc(), status, reason, message);
        headers.forEach((k, v) -> r.headers().set(k, v));
        boolean closing = close || (!http2Stream && drain.isDraining());
        if (closing && !http2Stream) {
            r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        down.writeAndFlush(r, closing);
    }

    private void failBeforeResponse(Exchange e, HttpResponseStatus status, String reason, String message) {
        failBeforeResponse(e, status, reason, message, java.util.Map.of());
    }

    private void failBeforeResponse(Exchange e, HttpResponseStatus status, String reason, String message,
                                    java.util.Map<String, String> headers) {
        releaseEarly(e);
        // Settle the outcome before the reply leaves (as a relayed response does), so the caller's
        // next request, or its look at /upstreams, finds the breaker and the bulkhead slot updated.
        settleAdmission(e, 0, e.failure);
        boolean close = !http2Stream && (!e.requestDone || !e.keepAlive);
        if (!e.requestDone) {
            discarding = true;
        }
        localReply(status, reason, message, close || closeAfterResponse, headers);
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
        down.close();
    }

    /** Gives the request's admission back, once: the first outcome settled is the one the caller got. */
    private static void settleAdmission(Exchange e, int status, String failure) {
        Admission a = takeAdmission(e);
        if (a != null) {
            a.end(status, failure, e.firstByteAt);
        }
    }

    /** The request's admission, which only one outcome (or a cancel) may settle: null if settled already. */
    private static Admission takeAdmission(Exchange e) {
        Admission a = e.admission;
        e.admission = null;
        return a;
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
        Upstream up = e.up;
        if (up != null) {
            e.up = null;
            up.relayTo(null); // what it still delivers (a stream's close) is not this exchange's
            e.backend.release(up, reusable && up.isActive());
        }
    }

    private void endExchange(Exchange e, int status, String reason) {
        if (e.ended) {
            return;
        }
        e.ended = true;
        dropReplay(e);
        if (e.tryTimer != null) {
            e.tryTimer.cancel();
        }
        if (e.totalTimer != null) {
            e.totalTimer.cancel();
        }
        if (e.waitingFor != null) {
            e.waitingFor.cancel(false);
            e.waitingFor = null;
        }
        if ("downstream_closed".equals(reason)) {
            Admission a = takeAdmission(e);
            if (a != null) {
                a.cancel();
            }
        } else {
            settleAdmission(e, e.responseStarted ? e.status : 0, e.failure);
        }
        if (ex == e) {
            ex = null;
        }
        drain.exchangeEnded();
        e.rec.circuit(e.backend.circuitState());
        e.rec.end(status, reason);
    }

    /** No exchange in progress and nothing held: the end of the downstream would change nothing. */
    @Override
    public boolean idle() {
        return ex == null && !hasPending();
    }

    private boolean hasPending() {
        return pending != null && !pending.isEmpty();
    }

    private void resumeAfterExchange() {
        if (http2Stream || !down.isActive()) {
            return;
        }
        down.setAutoRead(true);
        while (ex == null && hasPending() && down.isActive()) {
            handle(pending.poll());
        }
        if (ex != null && hasPending()) {
            // Body pieces of the request just started: feed them in order.
            while (hasPending() && ex != null && !ex.requestDone) {
                handle(pending.poll());
            }
        }
    }

    /**
     * Stops reading the upstream {@code up} while the caller cannot take more, then flushes to the
     * caller. Reading resumes on the downstream's writability change. The order matters: a flush on
     * loopback can drain at once and fire that change <em>during</em> the flush, so reading is
     * turned off first and re-checked after, never the other way round (which would stall for good).
     */
    private void pauseBackend(Upstream up) {
        up.setAutoRead(false);
        down.flush();
        if (down.isWritable()) {
            up.setAutoRead(true);
        }
    }

    /** The other way: stops reading the caller while the upstream {@code up} cannot take more (as {@link #pauseBackend}). */
    private void pauseDownstream(Upstream up) {
        down.setAutoRead(false);
        up.flush();
        if (up.isWritable()) {
            down.setAutoRead(true);
        }
    }

    private static final int NO_RETRY = 0;
    private static final int RETRY_NOW = 1;
    private static final int RETRY_LATER = 2;

    /**
     * Whether the exchange's request is sent again after its try failed in {@code failure} (or
     * with {@code status}), and how soon. Never once any of the response was relayed, nor when
     * the request's body was not kept. Two kinds of retry:
     * <ul>
     * <li>at once, once per request, whatever the rules: a request the server provably did not
     * process (it refused the HTTP/2 stream), or an idempotent one whose reused connection the
     * server closed before answering, the keep-alive race every HTTP client meets;
     * <li>after a jittered backoff, up to {@code retry.attempts} times: the method is retried,
     * the failure is in {@code retry.on}.
     * </ul>
     * Both take from the upstream's retry budget, so an outage never multiplies the load.
     */
    private int mayRetry(Exchange e, String failure, int status) {
        if (!e.replayable || e.responseStarted || e.ended || !down.isActive()) {
            return NO_RETRY;
        }
        boolean race = !e.raceRetried && (e.refusedStream
                || (Outcomes.RESET.equals(failure) && e.reusedConnection && isIdempotent(e.request.method())));
        dev.ward.proxy.resilience.Resilience r = e.res;
        boolean ruled = !race && r != null && e.admission != null && e.retries < r.attempts() && r.retriesMethod(e.rec.method())
                && r.retriesOn(failure, status);
        if (!race && !ruled) {
            return NO_RETRY;
        }
        if (r != null && !r.tryRetry()) {
            log.debug("{}: retry budget of {} spent; not retrying {} {}", direction, e.backend.name(), e.rec.method(), e.rec.path());
            return NO_RETRY;
        }
        if (race) {
            e.raceRetried = true;
            return RETRY_NOW;
        }
        e.retries++;
        return RETRY_LATER;
    }

    private static boolean isIdempotent(HttpMethod m) {
        return HttpMethod.GET.equals(m) || HttpMethod.HEAD.equals(m) || HttpMethod.OPTIONS.equals(m)
                || HttpMethod.PUT.equals(m) || HttpMethod.DELETE.equals(m) || HttpMethod.TRACE.equals(m);
    }

    /** Sends the request again on a new try: the kept request and body pieces, now or after a backoff. */
    private void retry(Exchange e, boolean now) {
        log.debug("{}: {} {} to {} failed ({}); trying again{}", direction, e.rec.method(), e.rec.path(), e.backend.name(),
                e.refusedStream ? "stream refused" : e.failure, now ? "" : " after a backoff");
        releaseBackend(e, false);
        if (e.tryTimer != null) {
            e.tryTimer.cancel();
            e.tryTimer = null;
        }
        e.rec.retrying(e.retries + (e.raceRetried ? 1 : 0), e.refusedStream ? "refused_stream" : e.failure);
        e.requestWritten = false;
        ReferenceCountUtil.retain(e.request); // for this try's write; the held reference stays for the next
        e.refusedStream = false;
        e.reusedConnection = false;
        e.firstByteAt = 0;
        e.early = new ArrayDeque<>(e.replay == null ? 1 : e.replay.size() + 1);
        if (e.replay != null) {
            for (HttpContent c : e.replay) {
                e.early.add(c.retainedDuplicate());
            }
        } else if (e.requestDone && !(e.request instanceof LastHttpContent)) {
            e.early.add(LastHttpContent.EMPTY_LAST_CONTENT);
        }
        long delay = now || e.res == null ? 0 : e.res.backoffNanos(e.retries);
        if (delay <= 0) {
            startRetry(e);
        } else {
            down.eventLoop().schedule(() -> startRetry(e), delay, TimeUnit.NANOSECONDS);
        }
    }

    private void startRetry(Exchange e) {
        if (e != ex || e.ended || !down.isActive()) {
            return;
        }
        if (e.res != null) {
            armTryTimer(e);
        }
        startTry(e);
    }

    static String pathOf(String uri) {
        int q = uri.indexOf('?');
        return q < 0 ? uri : uri.substring(0, q);
    }
}
