package dev.ward.proxy.http;

import dev.ward.proxy.config.SidecarConfig;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.HttpServerExpectContinueHandler;
import io.netty.handler.codec.http2.DefaultHttp2Connection;
import io.netty.handler.codec.http2.DefaultHttp2ConnectionDecoder;
import io.netty.handler.codec.http2.DefaultHttp2ConnectionEncoder;
import io.netty.handler.codec.http2.WardHttp2ConnectionEncoder;
import io.netty.handler.codec.http2.WardHttp2FrameWriter;
import io.netty.handler.codec.http2.DefaultHttp2HeadersDecoder;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2ConnectionDecoder;
import io.netty.handler.codec.http2.Http2ConnectionEncoder;
import io.netty.handler.codec.http2.Http2FrameReader;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersEncoder.SensitivityDetector;
import io.netty.handler.codec.http2.Http2HeadersEncoder;
import io.netty.handler.codec.http2.Http2PromisedRequestVerifier;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.UniformStreamByteDistributor;
import io.netty.handler.codec.http2.WardHttp2Guards;
import io.netty.handler.flush.FlushConsolidationHandler;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/** The HTTP server pipelines every listener shares, for HTTP/1.1 and for HTTP/2. */
public final class HttpPipelines {

    /**
     * HTTP/2 receive windows, both ends of a sidecar-to-sidecar connection. The protocol's default
     * (64 KiB for the stream and for the whole connection) lets one connection carry four 16 KiB
     * responses at a time: with many streams the sender mostly waits for WINDOW_UPDATEs (measured:
     * 0.26x HAProxy's throughput at 16 KiB, c=64). 128 KiB per stream and 1 MiB per connection bound
     * what a connection can make Ward buffer for a slow reader to 1 MiB.
     */
    public static final int H2_STREAM_WINDOW = 128 * 1024;
    public static final int H2_CONNECTION_WINDOW = 1024 * 1024;

    private HttpPipelines() {}

    /** An HTTP/2 connection's decoder and encoder, as {@link #h2Codec} assembles them. */
    public record H2Codec(Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder) {}

    /**
     * The HTTP/2 decoder and encoder of a connection of this side ({@code server} or client),
     * never indexing what {@code sensitive} names, for {@link Http2Streams#of} with the same
     * {@code settings}. What Netty's builders assemble with their defaults, but for five
     * differences.
     *
     * <p>The streams share the connection's send window in turn (as Netty's
     * {@link UniformStreamByteDistributor}, without its object per stream: {@link TakeTurnsDistributor})
     * rather than by RFC 7540's priority tree ({@code WeightedFairQueueByteDistributor}, Netty's
     * default). Sidecars send no priorities, and RFC 9113 deprecates them. The tree's scheduler
     * hands each stream with data 1 KiB of the window per pass, so with 16 callers a 16 KiB response
     * went out as 16 DATA frames interleaved with the others' (16 reads and 16 writes on the caller's
     * sidecar where one would do), and keeping the tree up to date as streams open and close cost
     * about 3% of an inbound sidecar's event loop at 20-byte responses. This one gives each stream
     * an equal share of the window per pass, at least 1 KiB, so a large response still cannot starve
     * the others (measured: 1.13x the throughput at 16 KiB, 1.03x at 20 bytes; perf/README.md,
     * Tuning log).
     *
     * <p>The send and receive windows are Netty's, with less per stream: a stream's send state is
     * one small object that holds its one waiting frame itself ({@link CompactRemoteFlowController}),
     * and its receive state is made only once it needs one ({@link LazyLocalFlowController}): a
     * request without a body has none.
     *
     * <p>A received head is decoded into a {@link CompactHttp2Headers#validating} map instead of a
     * {@code DefaultHttp2Headers} (a hash table, a sentinel entry and an entry per header: about
     * 240 B more per head, and each sidecar decodes one per request; perf/README.md, Tuning log). It makes the
     * same checks: the codec refuses (resets the stream of) a head whose names are not lower-case
     * tokens or whose values hold a CR, LF, NUL or other control, and {@link HeadsToHttp2} relies on
     * that to copy headers to HTTP/1.1 without checking them again. The builder takes a header
     * decoder only with a whole encoder and decoder of one's own, and then leaves out the encoder's
     * guards; {@link WardHttp2Guards} puts Netty's back.
     *
     * <p>A HEADERS frame that holds a whole head is read without Netty's per-frame objects
     * ({@link WholeHeadsFrameReader}; every other frame is Netty's reader's).
     *
     * <p>Frames are written by {@link WardHttp2FrameWriter}: a HEADERS frame, and a DATA frame of
     * up to 1 KiB, as one buffer and one write instead of Netty's two with a promise aggregating
     * them (the same bytes; perf/README.md, Tuning log), and a DATA frame waits for the send
     * window as one small object ({@link WardHttp2ConnectionEncoder}) instead of Netty's buffer
     * queue and chained promises.
     */
    public static H2Codec h2Codec(boolean server, Http2Settings settings, SensitivityDetector sensitive) {
        DefaultHttp2Connection connection = new DefaultHttp2Connection(server);
        connection.remote().flowController(new CompactRemoteFlowController(connection, new TakeTurnsDistributor(connection)));
        connection.local().flowController(new LazyLocalFlowController(connection));
        Long maxHeaderListSize = settings.maxHeaderListSize();
        Http2FrameReader reader = new WholeHeadsFrameReader(new CompactHeadersDecoder(
                maxHeaderListSize == null ? Http2CodecUtil.DEFAULT_HEADER_LIST_SIZE : maxHeaderListSize));
        Http2ConnectionEncoder encoder = WardHttp2Guards.guard(
                new WardHttp2ConnectionEncoder(new DefaultHttp2ConnectionEncoder(connection, new WardHttp2FrameWriter(sensitive))), server);
        Http2ConnectionDecoder decoder = new DefaultHttp2ConnectionDecoder(connection, encoder, reader,
                Http2PromisedRequestVerifier.ALWAYS_VERIFY, true, true, true); // ack SETTINGS and PINGs, validate heads
        return new H2Codec(decoder, encoder);
    }

    /** HPACK decoding into {@link CompactHttp2Headers#validating}, with Netty's checks on (names and values). */
    private static final class CompactHeadersDecoder extends DefaultHttp2HeadersDecoder {
        CompactHeadersDecoder(long maxHeaderListSize) {
            super(true, true, maxHeaderListSize);
        }

        @Override
        protected Http2Headers newHeaders() {
            // One header of room beyond the decoder's guess (its running average of heads' sizes):
            // HeadsToHttp2 converts the head to HTTP/1.1 on this array, and the headers a sidecar
            // adds go into what the pseudo-headers leave and this one.
            return CompactHttp2Headers.validating(numberOfHeadersGuess() + 1);
        }
    }

    /** The settings of an HTTP/2 connection Ward opens: no server push, responses' heads up to {@code maxHeaderSize}, the wide stream window. */
    static Http2Settings h2ClientSettings(int maxHeaderSize) {
        return Http2Settings.defaultSettings().pushEnabled(false).maxHeaderListSize(maxHeaderSize).initialWindowSize(H2_STREAM_WINDOW);
    }

    /**
     * The HTTP/2 handler of a connection Ward opens (to another sidecar, or to an app that speaks
     * HTTP/2): {@link #h2ClientSettings}, trace headers kept out of HPACK's dynamic table
     * ({@link TraceHeaders#notIndexed}), its streams opened one per try of a request; a stream the
     * server would open is refused.
     */
    public static Http2Streams h2ClientStreams(int maxHeaderSize) {
        Http2Settings settings = h2ClientSettings(maxHeaderSize);
        return Http2Streams.of(false, h2Codec(false, settings, TraceHeaders.notIndexed()), settings, null);
    }

    /**
     * The HTTP/2 side of a connection Ward opened, once TLS (if any) and ALPN are done: flush
     * consolidation and the connection's handler ({@link #h2ClientStreams}), which the caller opens
     * streams on.
     */
    public static Http2Streams h2Client(ChannelPipeline p, int maxHeaderSize) {
        consolidateFlushes(p);
        Http2Streams streams = h2ClientStreams(maxHeaderSize);
        p.addLast("h2", streams);
        return streams;
    }

    /** Grows the connection-level receive window of the HTTP/2 connection {@code ch} to {@link #H2_CONNECTION_WINDOW}. */
    public static void widenConnectionWindow(Channel ch) {
        ch.pipeline().get(Http2Streams.class).widenConnectionWindow(H2_CONNECTION_WINDOW);
    }

    /**
     * Whether an HTTP/2 connection's flushes are consolidated (system property
     * {@code ward.h2.consolidateFlushes}, default true; false is for measuring what it saves).
     */
    static final boolean CONSOLIDATE_FLUSHES =
            Boolean.parseBoolean(System.getProperty("ward.h2.consolidateFlushes", "true"));

    /**
     * Flushes held on an HTTP/2 connection before one is made at once (system property
     * {@code ward.h2.flushAfterFlushes}, default Netty's 256; a smaller number is for measuring
     * what batching costs the tail latency).
     */
    static final int FLUSH_AFTER_FLUSHES =
            Integer.getInteger("ward.h2.flushAfterFlushes", FlushConsolidationHandler.DEFAULT_EXPLICIT_FLUSH_AFTER_FLUSHES);

    /**
     * On an HTTP/2 connection between sidecars every stream flushes the connection as its request
     * or response is relayed, so the requests (or responses) of many callers read in one pass of the
     * event loop would each become a TLS record and a {@code write}. Flushes are held until the
     * loop has handled what it read, then made once ({@link FlushConsolidationHandler}, also when
     * no read is in progress on this connection itself: the flushes come from the callers'
     * connections and the app's). Goes between TLS and the HTTP/2 codec.
     */
    static void consolidateFlushes(ChannelPipeline p) {
        if (CONSOLIDATE_FLUSHES) {
            p.addLast("flush", new FlushConsolidationHandler(FLUSH_AFTER_FLUSHES, true));
        }
    }

    /** HTTP/1.1: codec with size limits, 100-continue answered locally, header and idle timeouts. */
    public static void http1(ChannelPipeline p, SidecarConfig.Limits limits, Supplier<ProxyHandler> handler) {
        p.addLast("http", new Http1ServerCodec(limits));
        p.addLast("expect", new HttpServerExpectContinueHandler());
        p.addLast("header-timeout", new HeaderReadTimeoutHandler(limits.headerReadTimeout()));
        p.addLast("idle", new IdleTimeout(limits.idleTimeout()));
        p.addLast("proxy", handler.get());
    }

    /**
     * HTTP/2: one connection, each stream served by its own {@link ProxyHandler} through
     * {@link Http2Streams} (the connection's handler: frames converted to HTTP objects and back,
     * without a channel or frame objects per stream), so the same handler serves both protocols. Drains with {@link Http2DrainHandler}.
     */
    public static void http2(ChannelPipeline p, SidecarConfig.Limits limits, Supplier<ProxyHandler> handler) {
        Http2Settings settings = Http2Settings.defaultSettings().initialWindowSize(H2_STREAM_WINDOW)
                .maxConcurrentStreams(limits.maxConcurrentStreams())
                .maxHeaderListSize(limits.maxHeaderSize());
        // Idle handling before the codec: it must see every frame, not just the connection-level ones
        // the multiplexer lets through (behind it, a busy connection looked idle and was closed).
        p.addLast("idle", new IdleTimeout(limits.idleTimeout()));
        consolidateFlushes(p);
        p.addLast("h2", Http2Streams.of(true, h2Codec(true, settings, Http2HeadersEncoder.NEVER_SENSITIVE), settings, handler));
        p.addLast("h2-drain", new Http2DrainHandler());
        widenConnectionWindow(p.channel());
    }

    /**
     * Plain-text listeners (the outbound side, where the app connects on loopback): HTTP/1.1, or
     * HTTP/2 with prior knowledge (h2c, as gRPC clients and {@code h2load} speak it) when the
     * connection opens with the HTTP/2 preface. Both end in the same {@link ProxyHandler}.
     */
    public static void cleartext(ChannelPipeline p, SidecarConfig.Limits limits, Supplier<ProxyHandler> h1,
                                 Supplier<ProxyHandler> h2) {
        p.addLast("protocol", new PrefaceDetector(limits, h1, h2));
    }

    /**
     * Reads the first bytes of a connection and installs the HTTP/1.1 or the HTTP/2 pipeline behind
     * itself, then leaves (handing on what it read). A connection that sends nothing decisive within
     * the header timeout is closed, as an HTTP/1.1 one that sends no header would be.
     */
    static final class PrefaceDetector extends ByteToMessageDecoder {
        private static final ByteBuf PREFACE = Http2CodecUtil.connectionPrefaceBuf();

        private final SidecarConfig.Limits limits;
        private final Supplier<ProxyHandler> h1;
        private final Supplier<ProxyHandler> h2;
        private ScheduledFuture<?> timeout;

        PrefaceDetector(SidecarConfig.Limits limits, Supplier<ProxyHandler> h1, Supplier<ProxyHandler> h2) {
            this.limits = limits;
            this.h1 = h1;
            this.h2 = h2;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            timeout = ctx.executor().schedule(() -> ctx.close(), limits.headerReadTimeout().toMillis(), TimeUnit.MILLISECONDS);
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            int n = Math.min(in.readableBytes(), PREFACE.readableBytes());
            boolean prefix = ByteBufUtil.equals(PREFACE, PREFACE.readerIndex(), in, in.readerIndex(), n);
            if (prefix && n < PREFACE.readableBytes()) {
                return; // could still be either: wait for more
            }
            // Installed behind this handler (the last one), which then leaves: what it has read goes on to them.
            ChannelPipeline p = ctx.pipeline();
            if (prefix) {
                http2(p, limits, h2);
            } else {
                http1(p, limits, h1);
            }
            p.remove(this);
        }

        @Override
        protected void handlerRemoved0(ChannelHandlerContext ctx) {
            if (timeout != null) {
                timeout.cancel(false);
            }
        }
    }
}
