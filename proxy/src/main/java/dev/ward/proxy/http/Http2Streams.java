package dev.ward.proxy.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.VoidChannelPromise;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http2.AbstractHttp2ConnectionHandlerBuilder;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2ConnectionAdapter;
import io.netty.handler.codec.http2.Http2ConnectionDecoder;
import io.netty.handler.codec.http2.Http2ConnectionEncoder;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameAdapter;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2LocalFlowController;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.collection.IntObjectHashMap;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The streams of one HTTP/2 connection, without a channel per stream. On a connection a listener
 * accepted, each stream the caller opens is served by its own {@link ProxyHandler} (its
 * {@link Downstream}); on a connection Ward opened to the next hop ({@link HttpPipelines#h2ClientStreams}), each try of a
 * request opens one ({@link #open}, an {@link Upstream} that relays the response to the exchange).
 * It is the connection's HTTP/2 handler itself: Netty's {@link Http2ConnectionHandler} (the
 * connection's state, its flow control, HPACK, frame reading and writing, and Netty's guards),
 * with the frames of the streams handed to them here as its decoder reads them, and their frames
 * written straight to its encoder.
 *
 * <p>Until 2026-12-06 it went behind Netty's {@code Http2FrameCodec}, which puts a frame object
 * around every frame read and written, a stream object beside every one of its streams, and two
 * event objects into each stream (its state and its writability), and sends all of them through
 * the pipeline: about 200 B of every HTTP/2 request. Here a frame is a call with its parts, and
 * what the codec did for its streams is done here for Ward's: a stream's first HEADERS gives it
 * its id, the bytes of the DATA handed on go back to the windows, a stream's error resets it.
 *
 * <p>Netty's multiplexer gives every stream a child channel: a channel object, its pipeline with
 * head and tail contexts, a config, its registration on the event loop with a promise and a
 * listener, a promise per frame written (chained onto the connection's), and a close that fires
 * its events through that pipeline later. An inbound sidecar opens one per request, and profiles
 * put that machinery at several percent of its event loop, as did the one a calling sidecar opened
 * per request. Here a stream is one small object ({@link Stream}) that converts its frames to HTTP
 * objects and back ({@link HeadsToHttp2}, as the stream channel's codec did) and behaves towards
 * its user (the handler, or the exchange's relay) as the stream channel did:
 * <ul>
 * <li>frames are handed on in order while the handler reads; when it stops ({@code autoRead}
 * off) they are held, and the bytes of held DATA frames are not given back to the caller's send
 * window, so a caller that outruns the backend is stopped by flow control;
 * <li>the bytes of the DATA frames handed on go back to the caller (WINDOW_UPDATE) once the
 * connection's read is done, one update per stream and read;
 * <li>a stream is writable while the connection is and the stream has send window left; its
 * handler hears when that changes;
 * <li>closing a stream that is still open resets it ({@code CANCEL}), as closing a stream
 * channel did; a stream the peer reset, or that ended both ways, or whose connection went,
 * ends its user's exchange ({@link ProxyHandler#inactive}, {@link Upstream.Relay#inactive}), later
 * in the same loop turn as a channel's close would; a stream this side opened hands on the
 * response frames it still holds before it ends, and tells its relay of a {@code REFUSED_STREAM}
 * reset first.
 * </ul>
 */
public final class Http2Streams extends Http2ConnectionHandler {

    /** What serves one stream ({@link ProxyHandler}): the events a stream channel's last handler would get. */
    public interface StreamHandler {
        /** Before anything else: the stream, which it writes its response to. */
        void attach(Downstream stream);

        /** A message of the request ({@link io.netty.handler.codec.http.HttpObject}s, in order). */
        void read(Object msg);

        /** The messages of one read have been handed on. */
        void readComplete();

        /** {@link Downstream#isWritable} may have changed. */
        void writabilityChanged();

        /** The stream has ended (reset, closed, or its connection gone); nothing more comes. */
        void inactive();

        /** Whether {@link #inactive} would change nothing now (no exchange in progress). */
        boolean idle();
    }

    private static final Logger log = LoggerFactory.getLogger(Http2Streams.class);

    /** Who serves the streams the peer opens; null on a connection this sidecar opened, which serves none. */
    private final Supplier<? extends StreamHandler> handlers;
    /** The streams by id: the peer's, and this side's once their first frame is written (which gives them their id). */
    private final IntObjectHashMap<Stream> streams = new IntObjectHashMap<>();
    /** Streams that read frames in the connection's current read: their read is completed with the connection's. */
    private final ArrayList<Stream> readInThisPass = new ArrayList<>();
    private ChannelHandlerContext ctx;
    /**
     * The promise of a write whose outcome no one here needs: void, and, unlike the channel's own
     * void promise, it does not send a failure through the pipeline (the connection handler has
     * heard of it as an error already).
     */
    private ChannelPromise quiet;
    private boolean connectionReading;

    private Http2Streams(Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder, Http2Settings settings,
                         Supplier<? extends StreamHandler> handlers) {
        super(decoder, encoder, settings, false, true); // as Netty's builders: GOAWAY on close, the preface flushed
        this.handlers = handlers;
        decoder.frameListener(new FrameListener());
        connection().addListener(new Http2ConnectionAdapter() {
            @Override
            public void onStreamClosed(Http2Stream stream) {
                Stream s = streams.get(stream.id());
                if (s != null) {
                    s.streamClosed();
                }
            }
        });
        connection().remote().flowController().listener(stream -> {
            Stream s = streams.get(stream.id());
            if (s != null) {
                s.writabilityChanged();
            }
        });
    }

    /**
     * The handler of an HTTP/2 connection of this side, from its decoder and encoder
     * ({@link HttpPipelines#h2Codec}), with Netty's guards on what the peer sends as its builders
     * add them (empty DATA frames, a flood of RST_STREAMs on a server), the advertised stream limit
     * enforced from the start, and no grace period on close. On a connection a listener accepted
     * ({@code server}), each stream the caller opens is served by a handler from {@code handlers};
     * on one this sidecar opened ({@code handlers} null) streams are opened here ({@link #open}),
     * one per try of a request, and a stream the server would open (push, which Ward's settings
     * disable) is refused.
     */
    static Http2Streams of(boolean server, HttpPipelines.H2Codec codec, Http2Settings settings,
                           Supplier<? extends StreamHandler> handlers) {
        return new Builder(server, codec, settings, handlers).build();
    }

    /** Netty's builder of a connection handler, for this one: it adds Netty's decoder guards and settings. */
    private static final class Builder extends AbstractHttp2ConnectionHandlerBuilder<Http2Streams, Builder> {
        private final boolean server;
        private final Supplier<? extends StreamHandler> handlers;

        Builder(boolean server, HttpPipelines.H2Codec codec, Http2Settings settings, Supplier<? extends StreamHandler> handlers) {
            this.server = server;
            this.handlers = handlers;
            codec(codec.decoder(), codec.encoder());
            initialSettings(settings);
            gracefulShutdownTimeoutMillis(0);
        }

        @Override
        public boolean isServer() { // with a codec of one's own, the builder takes the side only this way
            return server;
        }

        @Override
        public Http2Streams build() {
            return super.build();
        }

        @Override
        protected Http2Streams build(Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder, Http2Settings initialSettings) {
            return new Http2Streams(decoder, encoder, initialSettings, handlers);
        }
    }

    /** Whether {@link #open} may succeed: the server's stream limit and the stream ids allow another, and no GOAWAY came. */
    public boolean canOpenStream() {
        return ctx.channel().isActive() && connection().local().canOpenStream() && !connection().goAwayReceived();
    }

    /**
     * A new stream for one try of a request, ready at once (a connection this sidecar opened, on its
     * event loop). It gets its id, and is sent, with its first write.
     */
    public Upstream open(boolean reused) {
        assert ctx.executor().inEventLoop() && handlers == null;
        return new ClientStream(reused);
    }

    /** Grows the connection's receive window to {@code size} bytes, if it is smaller (Netty starts it at 64 KiB). */
    void widenConnectionWindow(int size) {
        Http2Stream c = connection().connectionStream();
        Http2LocalFlowController flow = connection().local().flowController();
        int now = flow.windowSize(c);
        if (now < size) {
            try {
                flow.incrementWindowSize(c, size - now); // sends the WINDOW_UPDATE
            } catch (Http2Exception e) {
                onError(ctx, true, e);
            }
            flush(ctx);
        }
    }

    /** GOAWAY (no error) naming the last stream the peer opened, then the connection closes once it is sent. */
    void goAwayAndClose() {
        if (ctx.channel().isActive()) {
            goAway(ctx, connection().remote().lastStreamCreated(), Http2Error.NO_ERROR.code(), io.netty.buffer.Unpooled.EMPTY_BUFFER,
                    ctx.newPromise()).addListener(ChannelFutureListener.CLOSE);
            flush(ctx);
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
        this.ctx = ctx;
        this.quiet = new VoidChannelPromise(ctx.channel(), false);
        super.handlerAdded(ctx);
        if (handlers == null) {
            HeadsToHttp2.CLIENT.connectionAdded(ctx);
        }
    }

    /**
     * Always, for Netty's close: it does not wait for open streams to close (as with Netty's grace
     * period of 0, which this handler has, it closes once the GOAWAY is out), and so no stream's
     * close closes the connection. That matters because a stream that ends as its last DATA frame is
     * written closes then, before the flush that sends the frame ({@link io.netty.handler.codec.http2.WardHttp2ConnectionEncoder}
     * with a void promise): a close waiting on the streams would have closed the connection first.
     */
    @Override
    protected boolean isGracefulShutdownComplete() {
        return true;
    }

    /** Streams open now (for tests). */
    int openStreams() {
        return streams.size();
    }

    /** The frames the connection's decoder reads, after it has checked them and applied them to its state. */
    private final class FrameListener extends Http2FrameAdapter {
        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int streamDependency,
                                  short weight, boolean exclusive, int padding, boolean endOfStream) {
            onHeadersRead(ctx, streamId, headers, padding, endOfStream);
        }

        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int padding,
                                  boolean endOfStream) {
            connectionReading = true;
            Stream s = streams.get(streamId);
            if (s == null) {
                if (handlers == null) {
                    // On a connection this sidecar opened, a stream the server opens is refused.
                    Http2Stream h2 = connection().stream(streamId);
                    if (h2 != null && h2.state() != Http2Stream.State.CLOSED) {
                        encoder().writeRstStream(ctx, streamId, Http2Error.REFUSED_STREAM.code(), quiet);
                        flush(ctx);
                    }
                    return;
                }
                s = accept(streamId);
                if (s == null) {
                    return;
                }
            }
            s.receiveHeaders(headers, endOfStream);
        }

        @Override
        public int onDataRead(ChannelHandlerContext ctx, int streamId, ByteBuf data, int padding, boolean endOfStream) {
            connectionReading = true;
            Stream s = streams.get(streamId);
            if (s == null) {
                // A stream already let go (its handler closed it): what still comes is dropped, its bytes given back.
                return data.readableBytes() + padding;
            }
            s.receiveData(data, endOfStream);
            return padding; // the data's own bytes go back once handed on (Stream#readComplete)
        }

        @Override
        public void onRstStreamRead(ChannelHandlerContext ctx, int streamId, long errorCode) {
            connectionReading = true;
            Stream s = streams.get(streamId);
            if (s != null) {
                s.resetByPeer(errorCode); // the peer gave up on it, or refused it
            }
        }
        // SETTINGS, PING, GOAWAY, WINDOW_UPDATE, PRIORITY, unknown frames: the connection's decoder
        // has applied them already (a GOAWAY closes the streams above its last id), nothing for the streams.
    }

    /** A stream the caller opened, with its handler. */
    private Stream accept(int streamId) {
        Http2Stream h2 = connection().stream(streamId);
        if (h2 == null) {
            return null; // closed already
        }
        StreamHandler handler = handlers.get();
        ServerStream s = new ServerStream(streamId, h2, handler);
        handler.attach(s);
        streams.put(streamId, s);
        return s;
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) throws Exception {
        connectionReading = false;
        // Index loop: a stream's readComplete may not add streams, but may close one (which stays listed, harmlessly).
        for (int i = 0; i < readInThisPass.size(); i++) {
            readInThisPass.get(i).readComplete();
        }
        readInThisPass.clear();
        super.channelReadComplete(ctx); // and then flushes
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
        super.channelWritabilityChanged(ctx);
        if (ctx.channel().isWritable()) {
            for (Stream s : streams.values().toArray(new Stream[0])) {
                s.writabilityChanged();
            }
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        try {
            super.channelInactive(ctx); // closes the connection's streams (each ends here as Netty closes it)
        } finally {
            for (Stream s : streams.values().toArray(new Stream[0])) {
                s.closeQuietly();
            }
        }
    }

    /**
     * An error in one stream's frames (the decoder's validation of a head, a body longer than its
     * content-length...): a stream of Ward's is reset with the error's code and ends; the connection
     * goes on. So is one in what this side sends on it (a head larger than the peer's header list
     * limit: the frames after it must not go, and the peer must hear that the stream is over). A
     * stream Ward does not know is reset by Netty.
     */
    @Override
    protected void onStreamError(ChannelHandlerContext ctx, boolean outbound, Throwable cause,
                                 Http2Exception.StreamException e) {
        Stream s = streams.get(e.streamId());
        if (s == null) {
            log.debug("stream {} of {}: {}", e.streamId(), ctx.channel().remoteAddress(), String.valueOf(cause));
            super.onStreamError(ctx, outbound, cause, e);
        } else {
            log.debug("{}: {}", s, String.valueOf(cause));
            s.reset(e.error());
        }
    }

    /** A connection error: the pipeline hears of what the peer did (as from Netty's frame codec), then GOAWAY and close. */
    @Override
    protected void onConnectionError(ChannelHandlerContext ctx, boolean outbound, Throwable cause, Http2Exception http2Ex) {
        if (!outbound) {
            ctx.fireExceptionCaught(cause);
        }
        super.onConnectionError(ctx, outbound, cause, http2Ex);
    }

    /**
     * One stream: the frames the peer sent it, handed on as HTTP objects while its user reads, and
     * the messages its user writes, sent as frames. A {@link ServerStream} (the caller opened it) or
     * a {@link ClientStream} (this sidecar did). It is the {@link Http2FrameStream} Netty's
     * conversion is given for a head it converts itself (it names the stream in a header the proxy
     * drops).
     */
    private abstract class Stream implements HeadsToHttp2.FrameSink, Http2FrameStream {
        /** Its id; for a {@link ClientStream}, -1 until its first frame is written. */
        int id;
        /** The connection's stream; for a {@link ClientStream}, null until its first frame is written. */
        Http2Stream h2;
        /** Messages not yet handed on, while its user does not read; made when first needed. */
        ArrayDeque<Object> held;
        /** DATA bytes handed on and not yet given back to the peer's window. */
        int consumed;
        boolean autoRead = true;
        boolean delivering;
        boolean listedForReadComplete;
        boolean remoteEnded;
        boolean localEnded;
        boolean closed;

        Stream(int id, Http2Stream h2) {
            this.id = id;
            this.h2 = h2;
        }

        @Override
        public int id() {
            return id;
        }

        @Override
        public Http2Stream.State state() {
            return h2 == null ? Http2Stream.State.IDLE : h2.state();
        }

        /** Its half of the conversion: requests in and responses out, or the other way round. */
        abstract HeadsToHttp2 conversion();

        /** Hands one decoded message to the stream's user (who takes it). */
        abstract void handOn(Object msg);

        /** Tells its user that the messages of one read have been handed on. */
        abstract void readCompleted();

        abstract void writabilityChanged();

        /** The peer reset it with {@code errorCode}. */
        void resetByPeer(long errorCode) {
            closeQuietly();
        }

        /** The connection closed it (ended both ways, reset, or cut by a GOAWAY). */
        void streamClosed() {
            closeQuietly(); // what is held is of no use now
        }

        /** Its user is told, later in this loop's turn, that it has gone (if it still cares). */
        abstract void notifyInactive();

        void receiveHeaders(Http2Headers headers, boolean endOfStream) {
            if (closed) {
                return;
            }
            remoteEnded |= endOfStream;
            Object msg;
            try {
                msg = conversion().decodeHeaders(ctx, this, headers, endOfStream);
            } catch (Exception e) {
                // Netty's conversion refused the head (the decoder validated it already, so not expected).
                log.debug("{}: {}", this, e.toString());
                reset(Http2Error.PROTOCOL_ERROR);
                return;
            }
            receive(msg);
        }

        /** A DATA frame's bytes (the decoder's: retained here for as long as they are needed). */
        void receiveData(ByteBuf data, boolean endOfStream) {
            if (closed) {
                return;
            }
            remoteEnded |= endOfStream;
            receive(HeadsToHttp2.decodeData(data, endOfStream));
        }

        private void receive(Object msg) {
            if (closed) {
                ReferenceCountUtil.release(msg);
                return;
            }
            if (autoRead && (held == null || held.isEmpty()) && !delivering) {
                deliver(msg);
            } else {
                if (held == null) {
                    held = new ArrayDeque<>(4);
                }
                held.add(msg);
            }
            if (autoRead && held != null && !held.isEmpty()) {
                drainHeld(); // its user turned reading back on while the message was handed to it
            }
            listForReadComplete();
        }

        private void listForReadComplete() {
            if (!listedForReadComplete) {
                listedForReadComplete = true;
                readInThisPass.add(this);
            }
        }

        /**
         * Hands one message on. Not re-entered: a user that turns reading back on while it is handed
         * a message gets the held ones after it returns ({@link #receive}, {@link #drainHeld}).
         */
        private void deliver(Object msg) {
            if (closed) {
                ReferenceCountUtil.release(msg);
                return;
            }
            if (msg instanceof HttpContent c) {
                consumed += c.content().readableBytes(); // a DATA frame's (a head's content is empty)
            }
            delivering = true;
            try {
                handOn(msg);
            } finally {
                delivering = false;
            }
        }

        /** Its user's read of this connection read is done: it flushes what it forwarded; the window goes back. */
        void readComplete() {
            listedForReadComplete = false;
            if (closed) {
                return;
            }
            readCompleted();
            returnWindow();
        }

        private void returnWindow() {
            if (consumed > 0 && !closed && h2 != null) {
                int n = consumed;
                consumed = 0;
                try {
                    // Back to the stream's and the connection's receive windows; a WINDOW_UPDATE goes
                    // when half a window is consumed (Netty's default ratio).
                    if (Http2Streams.this.connection().local().flowController().consumeBytes(h2, n)) {
                        Http2Streams.this.flush(ctx);
                    }
                } catch (Http2Exception e) {
                    onError(ctx, true, e);
                }
            }
        }

        /** Hands on held messages while its user reads. */
        void drainHeld() {
            if (delivering || held == null) {
                return;
            }
            for (Object m; autoRead && !closed && !delivering && (m = held.poll()) != null; ) {
                deliver(m);
            }
            if (connectionReading) {
                listForReadComplete();
            } else {
                readComplete();
            }
        }

        public Channel connection() {
            return ctx.channel();
        }

        /** Converts {@code msg} to frames and writes them (released here if it cannot go). */
        public void write(HttpObject msg) {
            if (closed) {
                ReferenceCountUtil.release(msg);
                return;
            }
            try {
                encode(msg);
            } catch (Exception e) {
                log.debug("{}: message not sent: {}", this, e.toString());
                reset(Http2Error.INTERNAL_ERROR);
            }
        }

        /** {@code msg} as frames, to {@link #headers} and {@link #data}. */
        abstract void encode(HttpObject msg) throws Exception;

        /**
         * Writes a HEADERS frame. No promise is made for it: a failure to encode it (a head larger
         * than the peer's header list limit) is a stream error, which resets the stream
         * ({@link #onStreamError}), and a failure to send it is the connection's, which then closes,
         * and every stream with it.
         */
        @Override
        public void headers(Http2Headers headers, boolean endStream) {
            if (closed || h2 == null && !open()) {
                return;
            }
            localEnded |= endStream;
            encoder().writeHeaders(ctx, id, headers, 0, endStream, quiet);
        }

        @Override
        public void data(ByteBuf data, boolean endStream) {
            if (closed || id < 0) { // a body before its head (not expected): the stream cannot take it
                data.release();
                if (!closed) {
                    close();
                }
                return;
            }
            localEnded |= endStream;
            // No promise either: a DATA frame that cannot be written is the connection's error
            // (which closes it), or the flow controller's for a stream already closed or reset
            // (which resets it: onStreamError).
            encoder().writeData(ctx, id, data, 0, endStream, quiet);
        }

        /**
         * A {@link ClientStream}'s id and its stream on the connection, as its first HEADERS goes:
         * made here, as Netty's encoder would make them, so that the head is written as any other
         * (the stream takes its place among the connection's streams before its first frame, as
         * it does in Netty's encoder). False, and the stream has ended, if the connection takes
         * no more streams (no ids left, the server's limit reached, a GOAWAY received).
         */
        private boolean open() {
            Http2Connection.Endpoint<?> local = Http2Streams.this.connection().local();
            int next = local.incrementAndGetNextStreamId();
            if (next < 0) {
                log.debug("{}: no stream ids left on the connection", this);
                closeQuietly();
                return false;
            }
            id = next;
            try {
                h2 = local.createStream(next, false);
            } catch (Http2Exception e) {
                log.debug("{}: not opened: {}", this, e.toString());
                closeQuietly();
                return false;
            }
            streams.put(id, this);
            return true;
        }

        public void flush() {
            Http2Streams.this.flush(ctx); // the flow controller's pending DATA first
        }

        public boolean isWritable() {
            return !closed && ctx.channel().isWritable()
                    && (h2 == null || Http2Streams.this.connection().remote().flowController().isWritable(h2));
        }

        public boolean isActive() {
            return !closed && ctx.channel().isActive();
        }

        public void setAutoRead(boolean on) {
            if (autoRead == on) {
                return;
            }
            autoRead = on;
            if (on && held != null && !held.isEmpty()) {
                drainHeld();
            }
        }

        /**
         * As a stream channel's close: a stream that has not ended both ways is reset ({@code CANCEL}),
         * so the peer stops sending and knows the message (if any) is incomplete.
         */
        public void close() {
            if (remoteEnded && localEnded) {
                closeQuietly();
            } else {
                reset(Http2Error.CANCEL);
            }
        }

        /** Resets the stream with {@code error} (unless the connection has closed it already, or never opened it), then ends it. */
        void reset(Http2Error error) {
            if (closed) {
                return;
            }
            if (h2 != null && ctx.channel().isActive() && h2.state() != Http2Stream.State.CLOSED) {
                encoder().writeRstStream(ctx, id, error.code(), quiet); // through Netty's limit on RSTs sent
                Http2Streams.this.flush(ctx);
            }
            closeQuietly();
        }

        /** Ends the stream without a frame to the peer: drops what is held; its user hears of it later in this turn. */
        void closeQuietly() {
            if (closed) {
                return;
            }
            closed = true;
            if (id > 0 && streams.get(id) == this) {
                streams.remove(id);
            }
            if (held != null) {
                for (Object m; (m = held.poll()) != null; ) {
                    ReferenceCountUtil.release(m);
                }
            }
            notifyInactive();
        }

        /** Runs {@code r} later in this loop's turn, as a channel's close fires {@code channelInactive}: its user may be mid-call. */
        void later(Runnable r) {
            try {
                ctx.channel().eventLoop().execute(r);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                r.run(); // the loop is shutting down: now, rather than never
            }
        }

        @Override
        public String toString() {
            return "stream " + id + " of " + ctx.channel();
        }
    }

    /** A stream the caller opened: the {@link Downstream} its {@link StreamHandler} writes its response to. */
    private final class ServerStream extends Stream implements Downstream {
        final StreamHandler handler;

        ServerStream(int id, Http2Stream h2, StreamHandler handler) {
            super(id, h2);
            this.handler = handler;
        }

        @Override
        HeadsToHttp2 conversion() {
            return HeadsToHttp2.SERVER;
        }

        @Override
        void encode(HttpObject msg) throws Exception {
            HeadsToHttp2.SERVER.encodeResponse(ctx, msg, this);
        }

        @Override
        void handOn(Object msg) {
            handler.read(msg);
        }

        @Override
        void readCompleted() {
            handler.readComplete();
        }

        @Override
        void writabilityChanged() {
            handler.writabilityChanged();
        }

        @Override
        void notifyInactive() {
            // A handler whose exchange is over has nothing to hear: it is idle, or the stream ended
            // both ways, so it wrote the response's end (the stream may close as that is written,
            // before the handler has finished the exchange, which it then does).
            if (!handler.idle() && !(remoteEnded && localEnded)) {
                later(handler::inactive);
            }
        }

        @Override
        public void writeAndFlush(HttpObject msg, boolean thenClose) {
            write(msg);
            flush();
            if (thenClose) {
                close();
            }
        }

        @Override
        public void refuse() {
            reset(Http2Error.REFUSED_STREAM);
        }
    }

    /**
     * A stream this sidecar opened for one try of a request: the {@link Upstream} its exchange
     * writes the request to, and whose response it relays. It behaves as the stream channel Netty's
     * multiplexer would have made for it, except that its first write gives it its id (the
     * multiplexer's stream channel did the same).
     */
    private final class ClientStream extends Stream implements Upstream {
        final boolean reused;
        Relay relay;
        Object attachment;

        ClientStream(boolean reused) {
            super(-1, null);
            this.reused = reused;
        }

        @Override
        HeadsToHttp2 conversion() {
            return HeadsToHttp2.CLIENT;
        }

        @Override
        void encode(HttpObject msg) throws Exception {
            HeadsToHttp2.CLIENT.encodeRequest(ctx, msg, this);
        }

        @Override
        void handOn(Object msg) {
            Relay r = relay;
            if (r != null) {
                r.read(this, msg);
            } else {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        void readCompleted() {
            Relay r = relay;
            if (r != null) {
                r.readComplete(this);
            }
        }

        @Override
        void writabilityChanged() {
            Relay r = relay;
            if (r != null) {
                r.writabilityChanged(this);
            }
        }

        @Override
        void resetByPeer(long errorCode) {
            Relay r = relay;
            if (errorCode == Http2Error.REFUSED_STREAM.code() && r != null && !closed) {
                r.refused(this);
            }
            closeQuietly();
        }

        /**
         * Ended both ways: the response is all here, but some of it may be held while the exchange
         * does not read (its caller is slow), and is handed on first, as a stream channel would.
         */
        @Override
        void streamClosed() {
            if (!remoteEnded || !localEnded || held == null || held.isEmpty()) {
                closeQuietly();
            }
        }

        /** After the held frames, a stream the codec has closed meanwhile ({@link #streamClosed}) ends. */
        @Override
        void drainHeld() {
            super.drainHeld();
            if ((held == null || held.isEmpty()) && h2 != null && h2.state() == Http2Stream.State.CLOSED) {
                closeQuietly();
            }
        }

        @Override
        void notifyInactive() {
            if (relay != null) {
                later(() -> {
                    Relay r = relay;
                    if (r != null) {
                        r.inactive(this);
                    }
                });
            }
        }

        @Override
        public boolean multiplexed() {
            return true;
        }

        @Override
        public boolean reused() {
            return reused;
        }

        @Override
        public void relayTo(Relay relay) {
            this.relay = relay;
        }

        @Override
        public Object attachment() {
            return attachment;
        }

        @Override
        public void attach(Object attachment) {
            this.attachment = attachment;
        }
    }
}
