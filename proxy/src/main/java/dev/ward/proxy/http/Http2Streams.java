package dev.ward.proxy.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2FrameStreamEvent;
import io.netty.handler.codec.http2.Http2FrameStreamException;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.Http2StreamFrame;
import io.netty.handler.codec.http2.Http2WindowUpdateFrame;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.collection.IntObjectHashMap;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The streams of one HTTP/2 connection a listener accepted, each served by its own
 * {@link ProxyHandler}, without a channel per stream. Goes behind the connection's
 * {@link Http2FrameCodec}, where Netty's {@code Http2MultiplexHandler} would go.
 *
 * <p>Netty's multiplexer gives every stream a child channel: a channel object, its pipeline with
 * head and tail contexts, a config, its registration on the event loop with a promise and a
 * listener, a promise per frame written (chained onto the connection's), and a close that fires
 * its events through that pipeline later. An inbound sidecar opens one per request, and profiles
 * put that machinery at several percent of its event loop. Here a stream is one small object
 * ({@link Stream}) that converts its frames to HTTP objects and back ({@link HeadsToHttp2}, as the
 * stream channel's codec did) and behaves towards its handler as the stream channel did:
 * <ul>
 * <li>frames are handed on in order while the handler reads; when it stops ({@code autoRead}
 * off) they are held, and the bytes of held DATA frames are not given back to the caller's send
 * window, so a caller that outruns the backend is stopped by flow control;
 * <li>the bytes of the DATA frames handed on go back to the caller (WINDOW_UPDATE) once the
 * connection's read is done, one update per stream and read;
 * <li>a stream is writable while the connection is and the stream has send window left; its
 * handler hears when that changes;
 * <li>closing a stream that is still open resets it ({@code CANCEL}), as closing a stream
 * channel did; a stream the caller reset, or that ended both ways, or whose connection went,
 * ends its handler's exchange ({@link ProxyHandler#inactive}), later in the same loop turn as a
 * channel's close would.
 * </ul>
 */
final class Http2Streams extends ChannelInboundHandlerAdapter {

    /** What serves one stream ({@link ProxyHandler}): the events a stream channel's last handler would get. */
    interface StreamHandler {
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

    private final Supplier<? extends StreamHandler> handlers;
    private final IntObjectHashMap<Stream> streams = new IntObjectHashMap<>();
    /** Streams that read frames in the connection's current read: their read is completed with the connection's. */
    private final ArrayList<Stream> readInThisPass = new ArrayList<>();
    private ChannelHandlerContext ctx;
    private Http2FrameCodec codec;
    private boolean connectionReading;
    /**
     * A received frame as HTTP objects, and a written message as frames: one list each for the
     * connection's streams, since a stream is made per request. A call that finds its list in use
     * (a handler acting on another stream from inside one's call: not expected) makes its own.
     */
    private final ArrayList<Object> decoded = new ArrayList<>(2);
    private final ArrayList<Object> encoded = new ArrayList<>(2);
    private boolean decodedInUse;
    private boolean encodedInUse;

    Http2Streams(Supplier<? extends StreamHandler> handlers) {
        this.handlers = handlers;
    }

    @Override
    public boolean isSharable() {
        return false;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.codec = ctx.pipeline().get(Http2FrameCodec.class);
        if (codec == null) {
            throw new IllegalStateException("Http2Streams goes behind an Http2FrameCodec");
        }
    }

    /** Streams open now (for tests). */
    int openStreams() {
        return streams.size();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof Http2StreamFrame frame)) {
            ctx.fireChannelRead(msg); // SETTINGS, PING, GOAWAY: the connection's
            return;
        }
        connectionReading = true;
        if (msg instanceof Http2WindowUpdateFrame) {
            return; // the codec has applied it to the send window already
        }
        Http2FrameStream fs = frame.stream();
        Stream s = streams.get(fs.id());
        if (s == null) {
            if (!(frame instanceof Http2HeadersFrame)) {
                ReferenceCountUtil.release(frame); // a stream already let go (its handler closed it): what still comes is dropped
                return;
            }
            s = open(fs);
            if (s == null) {
                ReferenceCountUtil.release(frame);
                return;
            }
        }
        if (frame instanceof Http2ResetFrame) {
            s.closeQuietly(); // the caller gave up on it
            return;
        }
        if (frame instanceof Http2HeadersFrame || frame instanceof Http2DataFrame) {
            s.receive(frame);
        } else {
            ReferenceCountUtil.release(frame); // PRIORITY, unknown frame types: nothing for the handler
        }
    }

    private Stream open(Http2FrameStream fs) {
        Http2Stream h2 = codec.connection().stream(fs.id());
        if (h2 == null) {
            return null; // closed already (a HEADERS frame with a reset behind it in the same read)
        }
        StreamHandler handler = handlers.get();
        Stream s = new Stream(fs, h2, handler);
        handler.attach(s);
        streams.put(fs.id(), s);
        return s;
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        connectionReading = false;
        // Index loop: a stream's readComplete may not add streams, but may close one (which stays listed, harmlessly).
        for (int i = 0; i < readInThisPass.size(); i++) {
            readInThisPass.get(i).readComplete();
        }
        readInThisPass.clear();
        ctx.fireChannelReadComplete();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof Http2FrameStreamEvent e) {
            Stream s = streams.get(e.stream().id());
            if (s != null) {
                if (e.type() == Http2FrameStreamEvent.Type.Writability) {
                    s.handler.writabilityChanged();
                } else if (e.stream().state() == Http2Stream.State.CLOSED) {
                    s.closeQuietly(); // ended both ways (or reset): what is held is of no use now
                }
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable()) {
            for (Stream s : streams.values().toArray(new Stream[0])) {
                s.handler.writabilityChanged();
            }
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        for (Stream s : streams.values().toArray(new Stream[0])) {
            s.closeQuietly();
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof Http2FrameStreamException e) {
            // An error in one stream's frames (the codec's validation of a head, a body longer than its
            // content-length...): that stream is reset with the error's code; the connection goes on.
            Stream s = streams.get(e.stream().id());
            log.debug("stream {} of {}: {}", e.stream().id(), ctx.channel().remoteAddress(), String.valueOf(e.getCause()));
            if (s != null) {
                s.reset(e.error());
            } else {
                ctx.writeAndFlush(new DefaultHttp2ResetFrame(e.error()).stream(e.stream()));
            }
            return;
        }
        ctx.fireExceptionCaught(cause);
    }

    /** One stream: the {@link Downstream} its handler writes to, and the frames the caller sent it. */
    private final class Stream implements Downstream, ChannelFutureListener {
        final Http2FrameStream fs;
        final Http2Stream h2;
        final StreamHandler handler;
        /** Frames not yet handed to the handler, while it does not read; made when first needed. */
        ArrayDeque<Http2StreamFrame> held;
        /** DATA bytes handed on and not yet given back to the caller's window. */
        int consumed;
        boolean autoRead = true;
        boolean delivering;
        boolean listedForReadComplete;
        boolean remoteEnded;
        boolean localEnded;
        boolean closed;

        Stream(Http2FrameStream fs, Http2Stream h2, StreamHandler handler) {
            this.fs = fs;
            this.h2 = h2;
            this.handler = handler;
        }

        void receive(Http2StreamFrame frame) {
            if (closed) {
                ReferenceCountUtil.release(frame);
                return;
            }
            remoteEnded |= frame instanceof Http2HeadersFrame h ? h.isEndStream() : ((Http2DataFrame) frame).isEndStream();
            if (autoRead && (held == null || held.isEmpty()) && !delivering) {
                deliver(frame);
            } else {
                if (held == null) {
                    held = new ArrayDeque<>(4);
                }
                held.add(frame);
            }
            if (autoRead && held != null && !held.isEmpty()) {
                drainHeld(); // the handler turned reading back on while the frame was handed to it
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
         * Hands one frame to the handler, as HTTP objects. Not re-entered: a handler that turns reading
         * back on while it is handed a frame gets the held ones after it returns ({@link #receive},
         * {@link #drainHeld}).
         */
        private void deliver(Http2StreamFrame frame) {
            if (frame instanceof Http2DataFrame d) {
                consumed += d.initialFlowControlledBytes();
            }
            delivering = true;
            boolean shared = !decodedInUse;
            List<Object> in = shared ? decoded : new ArrayList<>(2);
            decodedInUse = true;
            try {
                try {
                    HeadsToHttp2.SERVER.decodeFrame(ctx, frame, in);
                } catch (Exception e) {
                    // Netty's conversion refused the head (the codec validated it already, so not expected).
                    log.debug("stream {} of {}: {}", fs.id(), ctx.channel().remoteAddress(), e.toString());
                    releaseAll(in);
                    reset(Http2Error.PROTOCOL_ERROR);
                    return;
                } finally {
                    ReferenceCountUtil.release(frame);
                }
                for (int i = 0; i < in.size(); i++) {
                    Object o = in.get(i);
                    if (closed) {
                        ReferenceCountUtil.release(o);
                    } else {
                        handler.read(o);
                    }
                }
            } finally {
                in.clear();
                delivering = false;
                if (shared) {
                    decodedInUse = false;
                }
            }
        }

        /** The handler's read of this connection read is done: it flushes what it forwarded; the window goes back. */
        void readComplete() {
            listedForReadComplete = false;
            if (closed) {
                return;
            }
            handler.readComplete();
            returnWindow();
        }

        private void returnWindow() {
            if (consumed > 0 && !closed) {
                int n = consumed;
                consumed = 0;
                // The codec returns them to the stream's and the connection's receive windows, and sends
                // WINDOW_UPDATEs when half a window is consumed (Netty's default ratio).
                ctx.write(new DefaultHttp2WindowUpdateFrame(n).stream(fs), ctx.voidPromise());
                ctx.flush();
            }
        }

        /** Hands on held frames while the handler reads. */
        private void drainHeld() {
            if (delivering || held == null) {
                return;
            }
            for (Http2StreamFrame f; autoRead && !closed && !delivering && (f = held.poll()) != null; ) {
                deliver(f);
            }
            if (connectionReading) {
                listForReadComplete();
            } else {
                readComplete();
            }
        }

        // --- Downstream ---

        @Override
        public Channel connection() {
            return ctx.channel();
        }

        @Override
        public void write(HttpObject msg) {
            if (closed) {
                ReferenceCountUtil.release(msg);
                return;
            }
            boolean shared = !encodedInUse;
            List<Object> frames = shared ? encoded : new ArrayList<>(2);
            encodedInUse = true;
            try {
                try {
                    HeadsToHttp2.SERVER.encodeResponse(ctx, msg, frames);
                } catch (Exception e) {
                    log.debug("stream {} of {}: response not sent: {}", fs.id(), ctx.channel().remoteAddress(), e.toString());
                    releaseAll(frames);
                    reset(Http2Error.INTERNAL_ERROR);
                    return;
                }
                for (int i = 0; i < frames.size(); i++) {
                    Http2StreamFrame f = ((Http2StreamFrame) frames.get(i)).stream(fs);
                    localEnded |= f instanceof Http2HeadersFrame h ? h.isEndStream() : f instanceof Http2DataFrame d && d.isEndStream();
                    ctx.write(f).addListener(this);
                }
            } finally {
                frames.clear();
                if (shared) {
                    encodedInUse = false;
                }
            }
        }

        /** A frame that could not be written (the stream was reset meanwhile, the connection failed): the stream ends. */
        @Override
        public void operationComplete(ChannelFuture f) {
            if (!f.isSuccess() && !closed) {
                log.debug("stream {} of {}: write failed: {}", fs.id(), ctx.channel().remoteAddress(), String.valueOf(f.cause()));
                close();
            }
        }

        @Override
        public void flush() {
            ctx.flush();
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
        public boolean isWritable() {
            return !closed && ctx.channel().isWritable() && codec.connection().remote().flowController().isWritable(h2);
        }

        @Override
        public boolean isActive() {
            return !closed && ctx.channel().isActive();
        }

        @Override
        public void setAutoRead(boolean on) {
            if (autoRead == on) {
                return;
            }
            autoRead = on;
            if (on && held != null && !held.isEmpty()) {
                drainHeld();
            }
        }

        @Override
        public void close() {
            if (closed) {
                return;
            }
            // As a stream channel's close: a stream that has not ended both ways is reset, so the caller
            // stops sending and knows the response (if any) is incomplete.
            if (ctx.channel().isActive() && h2.state() != Http2Stream.State.CLOSED && !(remoteEnded && localEnded)) {
                ctx.write(new DefaultHttp2ResetFrame(Http2Error.CANCEL).stream(fs), ctx.voidPromise());
                ctx.flush();
            }
            closeQuietly();
        }

        @Override
        public void refuse() {
            reset(Http2Error.REFUSED_STREAM);
        }

        /** Resets the stream with {@code error}, then ends it. */
        void reset(Http2Error error) {
            if (closed) {
                return;
            }
            if (ctx.channel().isActive() && h2.state() != Http2Stream.State.CLOSED) {
                ctx.write(new DefaultHttp2ResetFrame(error).stream(fs), ctx.voidPromise());
                ctx.flush();
            }
            closeQuietly();
        }

        /** Ends the stream without a frame to the caller: drops what is held; the handler hears of it later in this turn. */
        void closeQuietly() {
            if (closed) {
                return;
            }
            closed = true;
            streams.remove(fs.id());
            if (held != null) {
                for (Http2StreamFrame f; (f = held.poll()) != null; ) {
                    ReferenceCountUtil.release(f);
                }
            }
            // Later, as a channel's close fires channelInactive: the handler may be in the middle of a call.
            // A handler whose exchange is over (a stream that ended both ways) has nothing to hear.
            if (!handler.idle()) {
                try {
                    ctx.channel().eventLoop().execute(handler::inactive);
                } catch (java.util.concurrent.RejectedExecutionException e) {
                    handler.inactive(); // the loop is shutting down: now, rather than never
                }
            }
        }

        @Override
        public String toString() {
            return "stream " + fs.id() + " of " + ctx.channel();
        }
    }

    private static void releaseAll(List<Object> messages) {
        for (Object o : messages) {
            ReferenceCountUtil.release(o);
        }
        messages.clear();
    }
}
