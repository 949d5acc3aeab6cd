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
 * The streams of one HTTP/2 connection, without a channel per stream. On a connection a listener
 * accepted, each stream the caller opens is served by its own {@link ProxyHandler} (its
 * {@link Downstream}); on a connection Ward opened to the next hop ({@link #client}), each try of a
 * request opens one ({@link #open}, an {@link Upstream} that relays the response to the exchange).
 * Goes behind the connection's {@link Http2FrameCodec}, where Netty's {@code Http2MultiplexHandler}
 * would go.
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
public final class Http2Streams extends ChannelInboundHandlerAdapter {

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

    /** On a connection a listener accepted: each stream the caller opens is served by a handler from {@code handlers}. */
    Http2Streams(Supplier<? extends StreamHandler> handlers) {
        this.handlers = handlers;
    }

    /**
     * On a connection this sidecar opened (to another sidecar, or an app that speaks HTTP/2): its
     * streams are opened here ({@link #open}), one per try of a request; a stream the server would
     * open (push, which Ward's settings disable) is refused.
     */
    public static Http2Streams client() {
        return new Http2Streams(null);
    }

    /** The connection's codec. */
    Http2FrameCodec codec() {
        return codec;
    }

    /** Whether {@link #open} may succeed: the server's stream limit and the stream ids allow another, and no GOAWAY came. */
    public boolean canOpenStream() {
        return ctx.channel().isActive() && codec.connection().local().canOpenStream() && !codec.connection().goAwayReceived();
    }

    /**
     * A new stream for one try of a request, ready at once (a connection this sidecar opened, on its
     * event loop). It gets its id, and is sent, with its first write.
     */
    public Upstream open(boolean reused) {
        assert ctx.executor().inEventLoop() && handlers == null;
        return new ClientStream(io.netty.handler.codec.http2.WardOutboundStreams.newStream(codec), reused);
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
        if (handlers == null) {
            try {
                HeadsToHttp2.CLIENT.connectionAdded(ctx);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
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
            if (!(frame instanceof Http2HeadersFrame) || handlers == null) {
                // A stream already let go (its handler closed it): what still comes is dropped. On a
                // connection this sidecar opened, a stream the server opens is refused.
                ReferenceCountUtil.release(frame);
                if (handlers == null && frame instanceof Http2HeadersFrame && fs.state() != Http2Stream.State.CLOSED) {
                    ctx.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.REFUSED_STREAM).stream(fs), ctx.voidPromise());
                }
                return;
            }
            s = accept(fs);
            if (s == null) {
                ReferenceCountUtil.release(frame);
                return;
            }
        }
        if (frame instanceof Http2ResetFrame rst) {
            s.resetByPeer(rst.errorCode()); // the peer gave up on it, or refused it
            return;
        }
        if (frame instanceof Http2HeadersFrame || frame instanceof Http2DataFrame) {
            s.receive(frame);
        } else {
            ReferenceCountUtil.release(frame); // PRIORITY, unknown frame types: nothing for the handler
        }
    }

    /** A stream the caller opened, with its handler. */
    private Stream accept(Http2FrameStream fs) {
        Http2Stream h2 = codec.connection().stream(fs.id());
        if (h2 == null) {
            return null; // closed already (a HEADERS frame with a reset behind it in the same read)
        }
        StreamHandler handler = handlers.get();
        ServerStream s = new ServerStream(fs, h2, handler);
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
                    s.writabilityChanged();
                } else if (e.stream().state() == Http2Stream.State.CLOSED) {
                    s.streamClosed();
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
                s.writabilityChanged();
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

    /**
     * One stream: the frames the peer sent it, handed on as HTTP objects while its user reads, and
     * the messages its user writes, sent as frames. A {@link ServerStream} (the caller opened it) or
     * a {@link ClientStream} (this sidecar did).
     */
    private abstract class Stream implements ChannelFutureListener {
        final Http2FrameStream fs;
        /** The codec's stream; for a {@link ClientStream}, null until its first frame is written. */
        Http2Stream h2;
        /** Frames not yet handed on, while its user does not read; made when first needed. */
        ArrayDeque<Http2StreamFrame> held;
        /** DATA bytes handed on and not yet given back to the peer's window. */
        int consumed;
        boolean autoRead = true;
        boolean delivering;
        boolean listedForReadComplete;
        boolean remoteEnded;
        boolean localEnded;
        boolean closed;

        Stream(Http2FrameStream fs, Http2Stream h2) {
            this.fs = fs;
            this.h2 = h2;
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

        /** The codec closed it (ended both ways, reset, or cut by a GOAWAY). */
        void streamClosed() {
            closeQuietly(); // what is held is of no use now
        }

        /** Its user is told, later in this loop's turn, that it has gone (if it still cares). */
        abstract void notifyInactive();

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
                drainHeld(); // its user turned reading back on while the frame was handed to it
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
         * Hands one frame on, as HTTP objects. Not re-entered: a user that turns reading back on
         * while it is handed a frame gets the held ones after it returns ({@link #receive},
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
                    conversion().decodeFrame(ctx, frame, in);
                } catch (Exception e) {
                    // Netty's conversion refused the head (the codec validated it already, so not expected).
                    log.debug("{}: {}", this, e.toString());
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
                        handOn(o);
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
            if (consumed > 0 && !closed) {
                int n = consumed;
                consumed = 0;
                // The codec returns them to the stream's and the connection's receive windows, and sends
                // WINDOW_UPDATEs when half a window is consumed (Netty's default ratio).
                ctx.write(new DefaultHttp2WindowUpdateFrame(n).stream(fs), ctx.voidPromise());
                ctx.flush();
            }
        }

        /** Hands on held frames while its user reads. */
        void drainHeld() {
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

        public Channel connection() {
            return ctx.channel();
        }

        /** Converts {@code msg} to frames and writes them (released here if it cannot go). */
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
                    encode(msg, frames);
                } catch (Exception e) {
                    log.debug("{}: message not sent: {}", this, e.toString());
                    releaseAll(frames);
                    reset(Http2Error.INTERNAL_ERROR);
                    return;
                }
                for (int i = 0; i < frames.size(); i++) {
                    Http2StreamFrame f = ((Http2StreamFrame) frames.get(i)).stream(fs);
                    if (closed) {
                        ReferenceCountUtil.release(f); // the first frame's write failed at once
                        continue;
                    }
                    boolean ends = f instanceof Http2HeadersFrame h ? h.isEndStream() : f instanceof Http2DataFrame d && d.isEndStream();
                    localEnded |= ends;
                    if (ends || h2 == null || !(f instanceof Http2HeadersFrame)) {
                        ctx.write(f).addListener(this);
                    } else {
                        // A head that more frames follow, on a stream that has its id: a failure to
                        // encode it resets the stream (which ends this one), and a failure to send it
                        // fails the frames after it too, whose listener hears it. Without a listener
                        // of ours its promise has just Netty's, so no listener list is made for it.
                        ctx.write(f);
                    }
                    if (h2 == null && !closed) {
                        opened();
                    }
                }
            } finally {
                frames.clear();
                if (shared) {
                    encodedInUse = false;
                }
            }
        }

        abstract void encode(HttpObject msg, List<Object> frames) throws Exception;

        /** A {@link ClientStream}'s first frame has been written: it has its id. */
        void opened() {
        }

        /** A frame that could not be written (the stream was reset meanwhile, the connection failed): the stream ends. */
        @Override
        public void operationComplete(ChannelFuture f) {
            if (!f.isSuccess() && !closed) {
                log.debug("{}: write failed: {}", this, String.valueOf(f.cause()));
                close();
            }
        }

        public void flush() {
            ctx.flush();
        }

        public boolean isWritable() {
            return !closed && ctx.channel().isWritable() && (h2 == null || codec.connection().remote().flowController().isWritable(h2));
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

        /** Resets the stream with {@code error} (unless the codec has closed it already, or never opened it), then ends it. */
        void reset(Http2Error error) {
            if (closed) {
                return;
            }
            if (h2 != null && ctx.channel().isActive() && h2.state() != Http2Stream.State.CLOSED) {
                ctx.write(new DefaultHttp2ResetFrame(error).stream(fs), ctx.voidPromise());
                ctx.flush();
            }
            closeQuietly();
        }

        /** Ends the stream without a frame to the peer: drops what is held; its user hears of it later in this turn. */
        void closeQuietly() {
            if (closed) {
                return;
            }
            closed = true;
            if (h2 != null) {
                streams.remove(fs.id());
            }
            if (held != null) {
                for (Http2StreamFrame f; (f = held.poll()) != null; ) {
                    ReferenceCountUtil.release(f);
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
            return "stream " + fs.id() + " of " + ctx.channel();
        }
    }

    /** A stream the caller opened: the {@link Downstream} its {@link StreamHandler} writes its response to. */
    private final class ServerStream extends Stream implements Downstream {
        final StreamHandler handler;

        ServerStream(Http2FrameStream fs, Http2Stream h2, StreamHandler handler) {
            super(fs, h2);
            this.handler = handler;
        }

        @Override
        HeadsToHttp2 conversion() {
            return HeadsToHttp2.SERVER;
        }

        @Override
        void encode(HttpObject msg, List<Object> frames) throws Exception {
            HeadsToHttp2.SERVER.encodeResponse(ctx, msg, frames);
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
            // A handler whose exchange is over (a stream that ended both ways) has nothing to hear.
            if (!handler.idle()) {
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

        ClientStream(Http2FrameStream fs, boolean reused) {
            super(fs, null);
            this.reused = reused;
        }

        @Override
        HeadsToHttp2 conversion() {
            return HeadsToHttp2.CLIENT;
        }

        @Override
        void encode(HttpObject msg, List<Object> frames) throws Exception {
            HeadsToHttp2.CLIENT.encodeRequest(ctx, msg, frames);
        }

        @Override
        void opened() {
            if (fs.id() > 0) { // the codec gave it an id as it wrote its HEADERS
                h2 = codec.connection().stream(fs.id());
                if (h2 != null) {
                    streams.put(fs.id(), this);
                }
            }
            // Otherwise the write failed at once (no stream ids left, the connection gone): its listener closes it.
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

    private static void releaseAll(List<Object> messages) {
        for (Object o : messages) {
            ReferenceCountUtil.release(o);
        }
        messages.clear();
    }
}
