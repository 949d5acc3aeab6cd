package dev.ward.proxy.http;

import static io.netty.handler.codec.http2.Http2CodecUtil.CONNECTION_STREAM_ID;
import static io.netty.handler.codec.http2.Http2CodecUtil.DEFAULT_WINDOW_SIZE;
import static io.netty.handler.codec.http2.Http2CodecUtil.MAX_INITIAL_WINDOW_SIZE;
import static io.netty.handler.codec.http2.Http2CodecUtil.MIN_INITIAL_WINDOW_SIZE;
import static io.netty.handler.codec.http2.Http2Error.FLOW_CONTROL_ERROR;
import static io.netty.handler.codec.http2.Http2Error.INTERNAL_ERROR;
import static io.netty.handler.codec.http2.Http2Exception.connectionError;
import static io.netty.handler.codec.http2.Http2Exception.streamError;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.DefaultHttp2LocalFlowController;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2ConnectionAdapter;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Exception.CompositeStreamException;
import io.netty.handler.codec.http2.Http2Exception.StreamException;
import io.netty.handler.codec.http2.Http2FrameWriter;
import io.netty.handler.codec.http2.Http2LocalFlowController;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.util.collection.IntObjectHashMap;
import io.netty.util.internal.ObjectUtil;
import io.netty.util.internal.PlatformDependent;

/**
 * The receive windows of a connection: Netty's {@link DefaultHttp2LocalFlowController} (with its
 * defaults: a WINDOW_UPDATE once half a window is consumed, the connection's window not refilled by
 * itself), except that a stream's state is made only once the stream needs one of its own.
 *
 * <p>Netty's controller makes a state object (about 48 B) for every stream as it opens, and keeps
 * it under a key in the stream's property map (one more slot there). Most of a sidecar's streams
 * never carry a DATA frame from the peer: a request without a body (GET) ends with its HEADERS. Such
 * a stream's window is the initial one and nothing of it is consumed, which this class answers
 * without an object; a stream's state is made (and kept in a map of stream ids, not in the stream)
 * when a DATA frame arrives for it, when its window is changed or consumed, or when a SETTINGS
 * change shrinks the initial window under it (which leaves it a tolerance for data already in
 * flight, a state a fresh one lacks; a change that grows the window leaves a stream as a fresh one
 * would be). Every answer, error and WINDOW_UPDATE is Netty's ({@code LazyLocalFlowControllerTest}
 * drives both alike). Not supported: a per-stream update ratio (Netty's
 * {@code windowUpdateRatio(Http2Stream, float)}, which Ward does not use).
 */
final class LazyLocalFlowController implements Http2LocalFlowController {

    /** The share of a window consumed before it is given back: Netty's default. */
    static final float WINDOW_UPDATE_RATIO = DefaultHttp2LocalFlowController.DEFAULT_WINDOW_UPDATE_RATIO;

    private final Http2Connection connection;
    private final Window connectionWindow;
    /** The streams' states made so far, by stream id; a stream's goes when it closes. */
    private final IntObjectHashMap<Window> windows = new IntObjectHashMap<>(4);
    private Http2FrameWriter frameWriter;
    private ChannelHandlerContext ctx;
    private int initialWindowSize = DEFAULT_WINDOW_SIZE;

    LazyLocalFlowController(Http2Connection connection) {
        this.connection = ObjectUtil.checkNotNull(connection, "connection");
        this.connectionWindow = new Window(connection.connectionStream(), initialWindowSize);
        connection.addListener(new Http2ConnectionAdapter() {
            @Override
            public void onStreamClosed(Http2Stream stream) {
                Window w = windows.remove(stream.id());
                if (w == null) {
                    return; // nothing received, so nothing unconsumed
                }
                // What the stream's user did not consume goes back to the connection's window.
                int unconsumed = w.unconsumedBytes();
                try {
                    if (ctx != null && unconsumed > 0 && (connectionWindow.consumeBytes(unconsumed) | w.consumeBytes(unconsumed))) {
                        ctx.flush();
                    }
                } catch (Http2Exception e) {
                    PlatformDependent.throwException(e);
                }
            }
        });
    }

    @Override
    public LazyLocalFlowController frameWriter(Http2FrameWriter frameWriter) {
        this.frameWriter = ObjectUtil.checkNotNull(frameWriter, "frameWriter");
        return this;
    }

    @Override
    public void channelHandlerContext(ChannelHandlerContext ctx) {
        this.ctx = ObjectUtil.checkNotNull(ctx, "ctx");
    }

    private static boolean isClosed(Http2Stream stream) {
        return stream.state() == Http2Stream.State.CLOSED;
    }

    /** Whether Netty's controller would hold a full state for it: open, or half closed. */
    private static boolean isActive(Http2Stream stream) {
        Http2Stream.State s = stream.state();
        return s == Http2Stream.State.OPEN || s == Http2Stream.State.HALF_CLOSED_LOCAL || s == Http2Stream.State.HALF_CLOSED_REMOTE;
    }

    /** The stream's state, made now if it is active and has none; null for a stream that is not active (Netty's "reduced" state). */
    private Window window(Http2Stream stream) {
        if (stream.id() == CONNECTION_STREAM_ID) {
            return connectionWindow;
        }
        Window w = windows.get(stream.id());
        if (w == null && isActive(stream)) {
            w = new Window(stream, initialWindowSize);
            windows.put(stream.id(), w);
        }
        return w;
    }

    /** The stream's state if it has one (made or the connection's), without making one. */
    private Window existing(Http2Stream stream) {
        return stream.id() == CONNECTION_STREAM_ID ? connectionWindow : windows.get(stream.id());
    }

    @Override
    public void initialWindowSize(int newWindowSize) throws Http2Exception {
        int delta = newWindowSize - initialWindowSize;
        int before = initialWindowSize;
        initialWindowSize = newWindowSize;
        if (delta == 0) {
            return;
        }
        CompositeStreamException[] failed = {null};
        connection.forEachActiveStream(stream -> {
            Window w = windows.get(stream.id());
            if (w == null) {
                if (delta > 0) {
                    return true; // it stays as a fresh state of the new size would be
                }
                w = new Window(stream, before); // as it was, to shrink as Netty's does (keeping the tolerance)
                windows.put(stream.id(), w);
            }
            try {
                w.incrementFlowControlWindows(delta);
                w.incrementInitialStreamWindow(delta);
            } catch (StreamException e) {
                if (failed[0] == null) {
                    failed[0] = new CompositeStreamException(e.error(), 4);
                }
                failed[0].add(e);
            }
            return true;
        });
        if (failed[0] != null) {
            throw failed[0];
        }
    }

    @Override
    public int initialWindowSize() {
        return initialWindowSize;
    }

    @Override
    public int windowSize(Http2Stream stream) {
        Window w = existing(stream);
        return w != null ? w.window : isActive(stream) ? initialWindowSize : 0;
    }

    @Override
    public int initialWindowSize(Http2Stream stream) {
        Window w = existing(stream);
        return w != null ? w.initialStreamWindowSize : isActive(stream) ? initialWindowSize : 0;
    }

    @Override
    public int unconsumedBytes(Http2Stream stream) {
        Window w = existing(stream);
        return w != null ? w.unconsumedBytes() : 0;
    }

    @Override
    public void incrementWindowSize(Http2Stream stream, int delta) throws Http2Exception {
        Window w = window(stream);
        if (w == null) {
            throw new UnsupportedOperationException(); // as Netty's for a stream that is not active
        }
        // The next WINDOW_UPDATE grows the window to the new size.
        w.incrementInitialStreamWindow(delta);
        w.writeWindowUpdateIfNeeded();
    }

    @Override
    public boolean consumeBytes(Http2Stream stream, int numBytes) throws Http2Exception {
        ObjectUtil.checkPositiveOrZero(numBytes, "numBytes");
        if (numBytes == 0) {
            return false;
        }
        // A closed stream gave back what it had when it closed.
        if (stream != null && !isClosed(stream)) {
            if (stream.id() == CONNECTION_STREAM_ID) {
                throw new UnsupportedOperationException("Returning bytes for the connection window is not supported");
            }
            Window w = window(stream);
            return connectionWindow.consumeBytes(numBytes) | (w != null && w.consumeBytes(numBytes));
        }
        return false;
    }

    @Override
    public void receiveFlowControlledFrame(Http2Stream stream, ByteBuf data, int padding, boolean endOfStream) throws Http2Exception {
        int dataLength = data.readableBytes() + padding;
        connectionWindow.receiveFlowControlledFrame(dataLength);
        if (stream != null && !isClosed(stream)) {
            Window w = window(stream);
            if (w == null) {
                throw new UnsupportedOperationException(); // as Netty's (the decoder refuses DATA on such a stream first)
            }
            w.endOfStream = endOfStream;
            w.receiveFlowControlledFrame(dataLength);
        } else if (dataLength > 0) {
            connectionWindow.consumeBytes(dataLength); // the connection's share of a frame no stream takes, back at once
        }
    }

    /** One window's state: Netty's {@code DefaultState}, with the connection's update ratio. */
    private final class Window {
        final Http2Stream stream;
        /** What the peer may still send. */
        int window;
        /** {@link #window} plus what was received and not yet consumed. */
        int processedWindow;
        /** The size a WINDOW_UPDATE brings the window back to. */
        int initialStreamWindowSize;
        /** How far below zero the window may go: what a SETTINGS change took off it while data was in flight. */
        int lowerBound;
        boolean endOfStream;

        Window(Http2Stream stream, int initialWindowSize) {
            this.stream = stream;
            window = processedWindow = initialStreamWindowSize = initialWindowSize;
        }

        void incrementInitialStreamWindow(int delta) {
            // Within the allowed sizes.
            initialStreamWindowSize = (int) Math.min(MAX_INITIAL_WINDOW_SIZE,
                    Math.max(MIN_INITIAL_WINDOW_SIZE, initialStreamWindowSize + (long) delta));
        }

        void incrementFlowControlWindows(int delta) throws Http2Exception {
            if (delta > 0 && window > MAX_INITIAL_WINDOW_SIZE - delta) {
                throw streamError(stream.id(), FLOW_CONTROL_ERROR, "Flow control window overflowed for stream: %d", stream.id());
            }
            window += delta;
            processedWindow += delta;
            lowerBound = Math.min(delta, 0);
        }

        void receiveFlowControlledFrame(int dataLength) throws Http2Exception {
            window -= dataLength; // taken even if it is an error
            if (window < lowerBound) {
                throw streamError(stream.id(), FLOW_CONTROL_ERROR, "Flow control window exceeded for stream: %d", stream.id());
            }
        }

        boolean consumeBytes(int numBytes) throws Http2Exception {
            if (processedWindow - numBytes < window) {
                throw streamError(stream.id(), INTERNAL_ERROR, "Attempting to return too many bytes for stream %d", stream.id());
            }
            processedWindow -= numBytes;
            return writeWindowUpdateIfNeeded();
        }

        int unconsumedBytes() {
            return processedWindow - window;
        }

        boolean writeWindowUpdateIfNeeded() throws Http2Exception {
            if (endOfStream || initialStreamWindowSize <= 0 || isClosed(stream)) {
                return false;
            }
            int threshold = (int) (initialStreamWindowSize * WINDOW_UPDATE_RATIO);
            if (processedWindow > threshold) {
                return false;
            }
            // Back to the full window.
            int delta = initialStreamWindowSize - processedWindow;
            try {
                incrementFlowControlWindows(delta);
            } catch (Throwable t) {
                throw connectionError(INTERNAL_ERROR, t, "Attempting to return too many bytes for stream %d", stream.id());
            }
            frameWriter.writeWindowUpdate(ctx, stream.id(), delta, ctx.newPromise());
            return true;
        }
    }
}
