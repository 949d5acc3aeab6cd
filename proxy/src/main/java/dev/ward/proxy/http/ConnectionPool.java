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
    /** An HTTP/2 connection's streams ({@link Http2Streams}), found once per connection. */
    private static final io.netty.util.AttributeKey<Http2Streams> H2_STREAMS = io.netty.util.AttributeKey.valueOf("ward.h2.streams");

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
    public Future<Upstream> acquire(EventLoop loop) {
        return loops.computeIfAbsent(loop, LoopPool::new).acquire();
    }

    @Override
    public void release(Upstream up, boolean reusable) {
        if (up.multiplexed()) {
            if (!reusable && up.isActive()) {
                up.close(); // resets the stream if it is not finished
            }
            return;
        }
        Channel ch = up.connection();
        LoopPool p = loops.get(ch.eventLoop());
        if (reusable && p != null && ch.isActive() && !retired) {
            p.idle.addLast((Http1Upstream) up);
        } else {
            ch.close();
        }
    }

    @Override
    public void retire(Upstream up) {
        if (up.multiplexed()) {
            Channel conn = up.connection();
            LoopPool p = loops.get(conn.eventLoop());
            if (p != null && p.h2 == conn) {
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
        final ArrayDeque<Http1Upstream> idle = new ArrayDeque<>();
        final Bootstrap bootstrap;
        Channel h2;
        /** {@link #h2}'s streams. */
        Http2Streams h2Streams;
        /** Acquirers waiting for the first connection while it may still turn out to be h2. */
        List<Promise<Upstream>> waiting;
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

        Future<Upstream> acquire() {
            if (h2 != null) {
                Http2Streams h = h2Streams;
                if (h.canOpenStream()) {
                    return loop.newSucceededFuture(h.open(true));
                }
                h2 = null;
            }
            for (Http1Upstream up; (up = idle.pollLast()) != null; ) {
                if (up.isActive()) {
                    up.reused = true;
                    return reuse(up);
                }
            }
            Promise<Upstream> p = loop.newPromise();
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
            connectFor(p);
            return p;
        }

        /** A new connection for {@code p}: HTTP/1.1 (or, if the server chooses h2 after all, a stream on it). */
        private void connectFor(Promise<Upstream> p) {
            connect(loop.newPromise()).addListener(f -> {
                if (!f.isSuccess()) {
                    p.tryFailure(f.cause());
                    return;
                }
                Channel ch = (Channel) f.getNow();
                if (ch == h2 && h2Streams.canOpenStream()) {
                    p.trySuccess(h2Streams.open(false));
                } else {
                    handOver(p, ch);
                }
            });
        }

        private void onFirstConnection(Future<?> f) {
            List<Promise<Upstream>> w = waiting;
            waiting = null;
            if (!f.isSuccess()) {
                for (Promise<Upstream> p : w) {
                    p.tryFailure(f.cause());
                }
                return;
            }
            Channel ch = (Channel) f.getNow();
            if (h2 == ch) {
                for (Promise<Upstream> p : w) {
                    if (!p.isDone()) {
                        Http2Streams h = ch.attr(H2_STREAMS).get();
                        if (!h.canOpenStream()) {
                            p.tryFailure(unavailable(new java.io.IOException("the HTTP/2 connection takes no new streams")));
                            continue;
                        }
                        p.trySuccess(h.open(false)); // one whose acquirer gave up waiting was never sent: nothing to close
                    }
                }
                return;
            }
            mayBeH2 = false; // the server chose HTTP/1.1
            handOver(w.get(0), ch);
            for (int i = 1; i < w.size(); i++) {
                if (!w.get(i).isDone()) {
                    connectFor(w.get(i));
                }
            }
        }

        /**
         * An idle connection taken again: its own completed future, made the first time it is reused
         * and kept on it, so that a reuse (every request but a connection's first) allocates nothing.
         * Completed futures hold no listeners and cannot be cancelled, so sharing one is safe.
         */
        private Future<Upstream> reuse(Http1Upstream up) {
            Future<Upstream> f = up.acquired;
            if (f == null) {
                f = loop.newSucceededFuture(up);
                up.acquired = f;
            }
            return f;
        }

        /**
         * Completes {@code p} with a new HTTP/1.1 connection; one whose acquirer gave up waiting is
         * kept for the next. (An h2 connection is kept as {@link #h2}; its acquirers get streams.)
         */
        private void handOver(Promise<Upstream> p, Channel ch) {
            Http1Upstream up = Http1Upstream.of(ch);
            if (up == null) { // an h2 connection that takes no stream
                p.tryFailure(unavailable(new java.io.IOException("the HTTP/2 connection takes no new streams")));
                return;
            }
            if (!p.trySuccess(up)) {
                if (ch.isActive()) {
                    idle.addLast(up);
                } else {
                    ch.close();
                }
            }
        }

        /** Connects; completes {@code p} with the connection: an HTTP/1.1 one, or an h2 one (then kept as {@link #h2}). */
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
                    p.trySuccess(ch);
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
                    if (!p.trySuccess(ch) && ch != h2) {
                        ch.close(); // not expected: the pool's own promise, which nobody cancels
                    }
                });
            });
            return p;
        }

        private void setUpHttp1(Channel ch) {
            ch.pipeline().addLast("http", http1Codec(settings.maxHeaderSize()));
            addIdleHandling(ch);
            Http1Upstream.addTo(ch.pipeline());
            ch.pipeline().addLast(GUARD, new UnaskedReadGuard(true));
        }

        private void setUpH2(Channel ch) {
            // Idle handling before the codec, where every frame passes (see IdleTimeout).
            addIdleHandling(ch);
            Http2Streams streams = HttpPipelines.h2Client(ch.pipeline(), settings.maxHeaderSize());
            ch.pipeline().addLast(GUARD, new UnaskedReadGuard(false));
            ch.attr(H2_STREAMS).set(streams);
            HttpPipelines.widenConnectionWindow(ch);
        }

        private void addIdleHandling(Channel ch) {
            ch.pipeline().addLast("idle", new IdleTimeout(settings.idleTimeout()));
        }

        void retireAll() {
            for (Http1Upstream up; (up = idle.poll()) != null; ) {
                up.close();
            }
            Channel parent = h2;
            h2 = null;
            if (parent != null) {
                Http2Streams codec = parent.attr(H2_STREAMS).get();
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
            for (Http1Upstream up; (up = idle.poll()) != null; ) {
                up.close();
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
