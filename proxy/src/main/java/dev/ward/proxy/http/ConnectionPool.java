package dev.ward.proxy.http;

import dev.ward.authz.identity.SpiffeId;
import dev.ward.proxy.tls.PeerIdentity;
import dev.ward.proxy.transport.Transports;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.WardOutboundStreams;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import javax.net.ssl.SSLHandshakeException;
import io.netty.channel.ConnectTimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Connections to one backend address, kept per event loop so a request never crosses threads:
 * idle HTTP/1.1 keep-alive connections are reused (most recent first), and when TLS and ALPN
 * agree on h2 one connection multiplexes every request as its own stream.
 *
 * <p>With TLS, a connection is handed out only after its handshake succeeded and the server's
 * SPIFFE id equals {@code expectedId}; otherwise it is closed, never used, and the acquire fails
 * with a {@link BackendException} (502, {@code upstream_identity_mismatch}). Fails closed.
 */
public final class ConnectionPool implements Backend {

    private static final Logger log = LoggerFactory.getLogger(ConnectionPool.class);
    /** Name of the last handler of a pooled connection; exchange handlers go before it. */
    static final String GUARD = "guard";
    /**
     * True on a channel that rides a connection which already carried requests (an idle HTTP/1.1
     * connection taken from the pool, or a stream on an existing h2 connection). Such a
     * connection may have been closed by the server just as it was reused.
     */
    public static final io.netty.util.AttributeKey<Boolean> REUSED = io.netty.util.AttributeKey.valueOf("ward.reused");

    /** On an HTTP/2 stream opened with its connection (not on one already carrying requests). */
    private static final io.netty.util.AttributeKey<Boolean> FRESH_STREAM = io.netty.util.AttributeKey.valueOf("ward.freshStream");

    /**
     * Whether {@code ch}, as {@link #acquire} handed it over, is a connection (or a stream on a
     * connection) that was open and in use before: an HTTP/1.1 connection taken from the idle
     * list, or a stream on an HTTP/2 connection that existed already. A request that fails on a
     * reused connection may have lost the keep-alive race rather than met a dead server.
     */
    public static boolean reused(Channel ch) {
        if (ch instanceof Http2StreamChannel) {
            return !ch.hasAttr(FRESH_STREAM);
        }
        return ch.hasAttr(REUSED) && Boolean.TRUE.equals(ch.attr(REUSED).get());
    }
    /**
     * An HTTP/2 connection's codec and its multiplexer's context, where its streams are opened
     * ({@link WardOutboundStreams}), found once per connection.
     */
    private record H2(Http2FrameCodec codec, ChannelHandlerContext mux) {
        boolean canOpenStream() {
            return codec.connection().local().canOpenStream() && !codec.connection().goAwayReceived();
        }
    }

    /** An HTTP/1.1 connection's completed future, handed to whoever takes it from the idle list. */
    private static final io.netty.util.AttributeKey<Future<Channel>> ACQUIRED = io.netty.util.AttributeKey.valueOf("ward.acquired");
    private static final io.netty.util.AttributeKey<H2> H2_STREAMS = io.netty.util.AttributeKey.valueOf("ward.h2.streams");

    /** How connections are made. {@code tls} null: plain TCP (the local app). */
    public record Settings(String name, InetSocketAddress address, Supplier<SslContext> tls, SpiffeId expectedId,
                           Duration connectTimeout, Duration handshakeTimeout, Duration idleTimeout,
                           int maxHeaderSize, Class<? extends Channel> channelType, String unavailableReason) {}

    private final Settings settings;
    /** Connect and handshake failures: one warning per 10 s per pool, the rest at debug. */
    private final dev.ward.telemetry.LogLimiter warnings = new dev.ward.telemetry.LogLimiter(Duration.ofSeconds(10));
    private final Map<EventLoop, LoopPool> loops = new ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicInteger open = new java.util.concurrent.atomic.AtomicInteger();
    private final dev.ward.proxy.tls.HandshakeRefusals handshakes;

    public ConnectionPool(Settings settings) {
        this(settings, null);
    }

    /** {@code handshakes}, if not null, counts this pool's TLS handshakes and their failures (as outbound). */
    public ConnectionPool(Settings settings, dev.ward.proxy.tls.HandshakeRefusals handshakes) {
        this.settings = settings;
        this.handshakes = handshakes;
    }

    /** Connections open now (idle or busy), across event loops. */
    public int openConnections() {
        return open.get();
    }

    @Override
    public String name() {
        return settings.name();
    }

    public Settings settings() {
        return settings;
    }

    @Override
    public Future<Channel> acquire(EventLoop loop) {
        return loops.computeIfAbsent(loop, LoopPool::new).acquire();
    }

    @Override
    public void release(Channel ch, boolean reusable) {
        if (ch instanceof Http2StreamChannel) {
            if (!reusable && ch.isActive()) {
                ch.close(); // resets the stream if it is not finished
            }
            return;
        }
        LoopPool p = loops.get(ch.eventLoop());
        if (reusable && p != null && ch.isActive() && !retired) {
            p.idle.addLast(ch);
        } else {
            ch.close();
        }
    }

    @Override
    public void retire(Channel ch) {
        if (ch instanceof Http2StreamChannel && ch.parent() != null) {
            LoopPool p = loops.get(ch.eventLoop());
            if (p != null && p.h2 == ch.parent()) {
                p.h2 = null; // the next acquire connects anew; streams on the old one may finish
            }
        }
    }

    /** Closes every pooled connection. */
    public void close() {
        for (LoopPool p : loops.values()) {
            p.loop.execute(p::closeAll);
        }
    }

    /**
     * Takes the pool out of service without cutting anything in flight (its endpoint left DNS):
     * idle connections close now, busy HTTP/1.1 ones when their exchange ends, and an HTTP/2
     * connection takes no new streams and closes once its last stream has ended.
     */
    public void retireGracefully() {
        retired = true;
        for (LoopPool p : loops.values()) {
            p.loop.execute(p::retireAll);
        }
    }

    private volatile boolean retired;

    /**
     * The largest piece of a response body the HTTP/1.1 decoder hands on at once. A piece is a
     * slice of what was read (no copy, nothing buffered for it), so this bounds nothing but the
     * number of pieces: Netty's 8 KiB cut a 16 KiB body read at once into two, each relayed on its
     * own (an HTTP/2 DATA write, or an HTTP/1.1 write, each with its promise). Measured: 1.073x the
     * throughput at 16 KiB (perf/README.md, Tuning log).
     */
    static final int MAX_BODY_PIECE = 64 * 1024;

    /** The HTTP/1.1 codec of a connection to an app or an HTTP/1.1 upstream. */
    static Http1ClientCodec http1Codec(int maxHeaderSize) {
        return new Http1ClientCodec(8192, maxHeaderSize, MAX_BODY_PIECE);
    }

    /** The pool of one event loop; touched only from that loop. */
    private final class LoopPool {
        final EventLoop loop;
        final ArrayDeque<Channel> idle = new ArrayDeque<>();
        final Bootstrap bootstrap;
        Channel h2;
        /** {@link #h2}'s codec and multiplexer. */
        H2 h2Streams;
        /** Acquirers waiting for the first connection while it may still turn out to be h2. */
        List<Promise<Channel>> waiting;
        /** Until a connection says otherwise, assume the server may speak h2 (TLS only). */
        boolean mayBeH2;

        LoopPool(EventLoop loop) {
            this.loop = loop;
            this.mayBeH2 = settings.tls() != null;
            this.bootstrap = new Bootstrap().group(loop).channel(settings.channelType())
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) settings.connectTimeout().toMillis())
                    .option(ChannelOption.TCP_NODELAY, true)
                    .option(ChannelOption.SO_KEEPALIVE, true)
                    .option(ChannelOption.ALLOCATOR, Transports.ALLOCATOR)
                    .handler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            // Pipelines are built once connected (TLS) or right away (plain).
                        }
                    });
        }

        Future<Channel> acquire() {
            if (h2 != null) {
                H2 h = h2Streams;
                if (h2.isActive() && h.canOpenStream()) {
                    try {
                        return loop.newSucceededFuture(openStream(h, true));
                    } catch (RuntimeException e) {
                        return loop.newFailedFuture(unavailable(e));
                    }
                }
                h2 = null;
            }
            for (Channel ch; (ch = idle.pollLast()) != null; ) {
                if (ch.isActive()) {
                    ch.attr(REUSED).set(Boolean.TRUE);
                    return reuse(ch);
                }
            }
            Promise<Channel> p = loop.newPromise();
            if (waiting != null) {
                waiting.add(p);
                return p;
            }
            if (mayBeH2) {
                waiting = new ArrayList<>();
                waiting.add(p);
                connect(loop.newPromise()).addListener(f -> onFirstConnection(f));
                return p;
            }
            connect(p);
            return p;
        }

        private void onFirstConnection(Future<?> f) {
            List<Promise<Channel>> w = waiting;
            waiting = null;
            if (!f.isSuccess()) {
                for (Promise<Channel> p : w) {
                    p.tryFailure(f.cause());
                }
                return;
            }
            Channel ch = (Channel) f.getNow();
            if (h2 == ch) {
                for (Promise<Channel> p : w) {
                    if (!p.isDone()) {
                        try {
                            Channel stream = openStream(ch.attr(H2_STREAMS).get(), false);
                            if (!p.trySuccess(stream)) {
                                stream.close(); // the acquirer gave up waiting
                            }
                        } catch (RuntimeException e) {
                            p.tryFailure(unavailable(e));
                        }
                    }
                }
                return;
            }
            mayBeH2 = false; // the server chose HTTP/1.1
            handOver(w.get(0), ch);
            for (int i = 1; i < w.size(); i++) {
                if (!w.get(i).isDone()) {
                    connect(w.get(i));
                }
            }
        }

        /**
         * An idle connection taken again: its own completed future, made the first time it is reused
         * and kept on it, so that a reuse (every request but a connection's first) allocates nothing.
         * Completed futures hold no listeners and cannot be cancelled, so sharing one is safe.
         */
        private Future<Channel> reuse(Channel ch) {
            io.netty.util.Attribute<Future<Channel>> a = ch.attr(ACQUIRED);
            Future<Channel> f = a.get();
            if (f == null) {
                f = loop.newSucceededFuture(ch);
                a.set(f);
            }
            return f;
        }

        /** Completes {@code p} with a new connection; one whose acquirer gave up waiting is kept for the next. */
        private void handOver(Promise<Channel> p, Channel ch) {
            if (!p.trySuccess(ch) && h2 != ch) {
                if (ch.isActive()) {
                    idle.addLast(ch);
                } else {
                    ch.close();
                }
            }
        }

        /** Connects; completes {@code p} with an HTTP/1.1 channel or the h2 parent channel. */
        private Promise<Channel> connect(Promise<Channel> p) {
            bootstrap.connect(settings.address()).addListener(cf -> {
                if (!cf.isSuccess()) {
                    p.tryFailure(unavailable(cf.cause()));
                    return;
                }
                Channel ch = ((io.netty.channel.ChannelFuture) cf).channel();
                open.incrementAndGet();
                ch.closeFuture().addListener(x -> open.decrementAndGet());
                if (settings.tls() == null) {
                    setUpHttp1(ch);
                    handOver(p, ch);
                    return;
                }
                InetSocketAddress a = settings.address();
                SslHandler ssl = settings.tls().get().newHandler(ch.alloc(), a.getHostString(), a.getPort());
                ssl.setHandshakeTimeoutMillis(settings.handshakeTimeout().toMillis());
                ch.pipeline().addLast("tls", ssl);
                ssl.handshakeFuture().addListener(hf -> {
                    if (!hf.isSuccess()) {
                        ch.close();
                        p.tryFailure(tlsFailed(hf.cause()));
                        return;
                    }
                    SpiffeId actual = PeerIdentity.fromSession(ssl.engine().getSession());
                    if (!settings.expectedId().equals(actual)) {
                        if (handshakes != null) {
                            handshakes.record("upstream_identity_mismatch");
                        }
                        log.warn("upstream {} at {} presented {} but {} was expected; connection closed unused",
                                settings.name(), a, actual, settings.expectedId());
                        ch.close();
                        p.tryFailure(new BackendException(HttpResponseStatus.BAD_GATEWAY, "upstream_identity_mismatch",
                                "upstream " + settings.name() + " presented an unexpected identity", null, "identity",
                                Map.of()));
                        return;
                    }
                    ch.attr(PeerIdentity.KEY).set(actual);
                    if (handshakes != null) {
                        handshakes.succeeded(false);
                    }
                    if (ApplicationProtocolNames.HTTP_2.equals(ssl.applicationProtocol())) {
                        setUpH2(ch);
                        h2 = ch;
                        h2Streams = ch.attr(H2_STREAMS).get();
                    } else {
                        setUpHttp1(ch);
                    }
                    handOver(p, ch);
                });
            });
            return p;
        }

        private void setUpHttp1(Channel ch) {
            ch.pipeline().addLast("http", http1Codec(settings.maxHeaderSize()));
            addIdleHandling(ch);
            ProxyHandler.RelaySlot.addTo(ch.pipeline());
            ch.pipeline().addLast(GUARD, new UnaskedReadGuard(true));
        }

        private void setUpH2(Channel ch) {
            Http2FrameCodec codec = HttpPipelines.h2ClientCodec(settings.maxHeaderSize());
            // Idle handling before the codec, where every frame passes (see IdleTimeout).
            addIdleHandling(ch);
            HttpPipelines.consolidateFlushes(ch.pipeline());
            ch.pipeline().addLast("h2", codec);
            ch.pipeline().addLast("h2-mux", new Http2MultiplexHandler(new ChannelInitializer<Channel>() {
                @Override
                protected void initChannel(Channel c) {
                    c.close(); // server push is disabled; refuse any stream the server opens
                }
            }));
            ch.pipeline().addLast(GUARD, new UnaskedReadGuard(false));
            ch.attr(H2_STREAMS).set(new H2(codec, ch.pipeline().context("h2-mux")));
            HttpPipelines.widenConnectionWindow(ch);
        }

        private void addIdleHandling(Channel ch) {
            ch.pipeline().addLast("idle", new IdleTimeout(settings.idleTimeout()));
        }

        /** A new stream on {@code parent}, ready at once; throws if none can be opened. */
        private Channel openStream(H2 parent, boolean reused) {
            Channel stream = WardOutboundStreams.open(parent.mux(), HeadsToHttp2.CLIENT);
            if (!reused) {
                stream.attr(FRESH_STREAM).set(Boolean.TRUE); // the rare case marked: an attribute costs each stream an object
            }
            return stream;
        }

        void retireAll() {
            for (Channel ch; (ch = idle.poll()) != null; ) {
                ch.close();
            }
            Channel parent = h2;
            h2 = null;
            if (parent != null) {
                Http2FrameCodec codec = parent.attr(H2_STREAMS).get().codec();
                if (codec.connection().numActiveStreams() == 0) {
                    parent.close();
                } else {
                    codec.connection().addListener(new io.netty.handler.codec.http2.Http2ConnectionAdapter() {
                        @Override
                        public void onStreamClosed(io.netty.handler.codec.http2.Http2Stream stream) {
                            // Checked after the stream has left the active set, whatever the notification order.
                            parent.eventLoop().execute(() -> {
                                if (codec.connection().numActiveStreams() == 0) {
                                    parent.close();
                                }
                            });
                        }
                    });
                }
            }
        }

        void closeAll() {
            for (Channel ch; (ch = idle.poll()) != null; ) {
                ch.close();
            }
            if (h2 != null) {
                h2.close();
                h2 = null;
            }
        }
    }

    /** "{what} NAME at ADDRESS: why", as a warning at most every 10 s, else at debug. */
    private void warnLimited(String what, String why) {
        long held = warnings.tryLog();
        if (held >= 0) {
            log.warn("{} {} at {}: {}{}", what, settings.name(), settings.address(), why,
                    dev.ward.telemetry.LogLimiter.heldBack(held));
        } else {
            log.debug("{} {} at {}: {}", what, settings.name(), settings.address(), why);
        }
    }

    private BackendException unavailable(Throwable cause) {
        String why = cause instanceof ConnectTimeoutException ? "connect timed out"
                : cause instanceof ConnectException ? "connection refused" : String.valueOf(cause.getMessage());
        warnLimited("cannot reach", why);
        return new BackendException(HttpResponseStatus.BAD_GATEWAY, settings.unavailableReason(),
                settings.name() + " is unreachable (" + why + ")", cause, "connect", Map.of());
    }

    private BackendException tlsFailed(Throwable cause) {
        String why = cause instanceof SSLHandshakeException ? String.valueOf(cause.getMessage()) : cause.toString();
        if (handshakes != null && !verificationRefused(cause)) {
            handshakes.record(why.contains("timed out") ? "upstream_handshake_timeout" : "upstream_handshake_failed");
        }
        warnLimited("TLS handshake failed with", why);
        return new BackendException(HttpResponseStatus.BAD_GATEWAY, "upstream_tls_failed",
                "TLS handshake with " + settings.name() + " failed", cause, "tls", Map.of());
    }

    /** SpiffeTrustManager refused the server's certificate (and counted it already). */
    private static boolean verificationRefused(Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t instanceof dev.ward.proxy.tls.PeerVerificationException) {
                return true;
            }
        }
        return false;
    }

    /**
     * Last handler of a pooled connection: an HTTP/1.1 connection that the server talks on while
     * no exchange is using it is closed; on an h2 connection it swallows connection-level frames.
     */
    private static final class UnaskedReadGuard extends ChannelInboundHandlerAdapter {
        private final boolean closeOnRead;

        UnaskedReadGuard(boolean closeOnRead) {
            this.closeOnRead = closeOnRead;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            // Reached only when no exchange's relay sits before us: a response nobody asked for.
            ReferenceCountUtil.release(msg);
            if (closeOnRead) {
                ctx.close();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("closing {} after error", ctx.channel(), cause);
            ctx.close();
        }
    }
}
