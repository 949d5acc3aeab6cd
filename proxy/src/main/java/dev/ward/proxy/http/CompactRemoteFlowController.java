package dev.ward.proxy.http;

import static io.netty.handler.codec.http2.Http2CodecUtil.CONNECTION_STREAM_ID;
import static io.netty.handler.codec.http2.Http2CodecUtil.DEFAULT_WINDOW_SIZE;
import static io.netty.handler.codec.http2.Http2Error.FLOW_CONTROL_ERROR;
import static io.netty.handler.codec.http2.Http2Error.INTERNAL_ERROR;
import static io.netty.handler.codec.http2.Http2Error.STREAM_CLOSED;
import static io.netty.handler.codec.http2.Http2Exception.streamError;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.DefaultHttp2RemoteFlowController;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2ConnectionAdapter;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2RemoteFlowController;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.Http2StreamVisitor;
import io.netty.handler.codec.http2.StreamByteDistributor;
import io.netty.util.collection.IntObjectHashMap;
import io.netty.util.internal.ObjectUtil;
import java.util.ArrayDeque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The send windows of a connection: Netty's {@link DefaultHttp2RemoteFlowController} (with its
 * writability listener), with one small object per stream instead of three.
 *
 * <p>For every stream Netty's controller makes a state (about 40 B) holding an
 * {@code ArrayDeque} of the frames waiting for window (24 B) and its array (about 32 B), and keeps
 * the state in a slot of the stream's property map, which makes that map's array. A sidecar's
 * stream has at most one frame waiting at a time, nearly always (its body goes as one buffer).
 * Here a stream's state holds its first waiting frame itself, and makes a queue only when a second
 * one waits behind it; the states are kept in a map of stream ids, not in the streams. Everything
 * else is Netty's, to the order of the listener's calls: the windows and their errors, the bytes
 * the distributor hands each stream, the frames written, merged, completed and failed, and the
 * writability the listener hears of ({@code CompactRemoteFlowControllerTest} drives both alike).
 */
final class CompactRemoteFlowController implements Http2RemoteFlowController {

    private static final Logger log = LoggerFactory.getLogger(CompactRemoteFlowController.class);

    /** Netty's: the least a writable channel is taken to hold, so that a pass is worth making. */
    private static final int MIN_WRITABLE_CHUNK = 32 * 1024;

    private final Http2Connection connection;
    private final StreamByteDistributor distributor;
    private final State connectionState;
    /** Every stream's state from when it is added to the connection until it is removed. */
    private final IntObjectHashMap<State> states = new IntObjectHashMap<>(4);
    private final Writer writer = new Writer();
    private Listener listener;
    private ChannelHandlerContext ctx;
    private int initialWindowSize = DEFAULT_WINDOW_SIZE;
    private boolean inWritePendingBytes;
    private long totalPendingBytes;

    CompactRemoteFlowController(Http2Connection connection, StreamByteDistributor distributor) {
        this.connection = ObjectUtil.checkNotNull(connection, "connection");
        this.distributor = ObjectUtil.checkNotNull(distributor, "distributor");
        connectionState = new State(connection.connectionStream());
        connectionState.window = initialWindowSize;
        connection.addListener(new Http2ConnectionAdapter() {
            @Override
            public void onStreamAdded(Http2Stream stream) {
                states.put(stream.id(), new State(stream));
            }

            @Override
            public void onStreamActive(Http2Stream stream) {
                // Its window is the initial one as of now (SETTINGS may have changed it while it was idle).
                State s = state(stream);
                s.window = initialWindowSize;
                try {
                    checkStateWritability(s);
                } catch (Http2Exception e) {
                    throw new RuntimeException("Caught unexpected exception from window", e);
                }
            }

            @Override
            public void onStreamClosed(Http2Stream stream) {
                state(stream).cancel(STREAM_CLOSED, null); // what waits can never be written
            }

            @Override
            public void onStreamHalfClosed(Http2Stream stream) {
                if (stream.state() == Http2Stream.State.HALF_CLOSED_LOCAL) {
                    // This side has sent its end: nothing may follow it (a RST_STREAM is not flow controlled).
                    state(stream).cancel(STREAM_CLOSED, null);
                }
            }

            @Override
            public void onStreamRemoved(Http2Stream stream) {
                states.remove(stream.id());
            }
        });
    }

    /** The stream's state, or null once the connection has let go of the (closed) stream. */
    private State find(Http2Stream stream) {
        return stream.id() == CONNECTION_STREAM_ID ? connectionState : states.get(stream.id());
    }

    /** The state of a stream the connection still holds (added, not yet removed). */
    private State state(Http2Stream stream) {
        State s = find(stream);
        if (s == null) {
            // Not expected: the connection adds every stream it hands out, and removes one only once it is closed.
            throw new IllegalStateException("no flow control state for stream " + stream.id());
        }
        return s;
    }

    @Override
    public void channelHandlerContext(ChannelHandlerContext ctx) throws Http2Exception {
        this.ctx = ObjectUtil.checkNotNull(ctx, "ctx");
        channelWritabilityChanged();
        if (isChannelWritable()) {
            writePendingBytes(); // what was queued before there was a channel
        }
    }

    @Override
    public ChannelHandlerContext channelHandlerContext() {
        return ctx;
    }

    @Override
    public void initialWindowSize(int newWindowSize) throws Http2Exception {
        ObjectUtil.checkPositiveOrZero(newWindowSize, "newWindowSize");
        int delta = newWindowSize - initialWindowSize;
        initialWindowSize = newWindowSize;
        connection.forEachActiveStream(stream -> {
            state(stream).incrementStreamWindow(delta);
            return true;
        });
        if (delta > 0 && isChannelWritable()) {
            writePendingBytes(); // the windows grew: what waits may go
        }
        if (listener != null && isWritableConnection()) {
            checkAllWritabilityChanged(); // a stream may have become unwritable without a write
        }
    }

    @Override
    public int initialWindowSize() {
        return initialWindowSize;
    }

    // A stream the connection has let go of (closed, then removed) answers as a closed one: no
    // window, not writable, nothing waiting, nothing taken (Netty's, kept on the stream, would still
    // know its last window; it is cancelled all the same).

    @Override
    public int windowSize(Http2Stream stream) {
        State s = find(stream);
        return s != null ? s.window : 0;
    }

    @Override
    public boolean isWritable(Http2Stream stream) {
        State s = find(stream);
        return s != null && isWritable(s);
    }

    @Override
    public void channelWritabilityChanged() throws Http2Exception {
        if (listener != null && connectionState.markedWritable != isChannelWritable()) {
            checkAllWritabilityChanged();
        }
    }

    @Override
    public void updateDependencyTree(int childStreamId, int parentStreamId, short weight, boolean exclusive) {
        distributor.updateDependencyTree(childStreamId, parentStreamId, weight, exclusive);
    }

    /**
     * Sets who hears of writability changes (null: no one). Netty's controller makes a new monitor
     * for it, which also forgets the bytes pending so far; this keeps them. {@code Http2Streams}
     * sets its listener once, before any frame.
     */
    @Override
    public void listener(Listener listener) {
        this.listener = listener;
    }

    @Override
    public void incrementWindowSize(Http2Stream stream, int delta) throws Http2Exception {
        State s = find(stream);
        if (s == null) {
            return;
        }
        s.incrementStreamWindow(delta);
        checkStateWritability(s);
    }

    @Override
    public void addFlowControlled(Http2Stream stream, FlowControlled frame) {
        ObjectUtil.checkNotNull(frame, "frame");
        try {
            State s = find(stream);
            if (s == null) {
                throw streamError(stream.id(), STREAM_CLOSED, "Stream closed before write could take place");
            }
            s.enqueueFrame(frame);
            checkConnectionThenStreamWritabilityChanged(s);
        } catch (Throwable t) {
            frame.error(ctx, t);
        }
    }

    @Override
    public boolean hasFlowControlled(Http2Stream stream) {
        State s = find(stream);
        return s != null && s.hasFrame();
    }

    @Override
    public void writePendingBytes() throws Http2Exception {
        // Not re-entered: a distribution inside a distribution could hand out bytes twice, or loop.
        if (inWritePendingBytes) {
            return;
        }
        inWritePendingBytes = true;
        try {
            int bytesToWrite = writableBytes();
            // At least one pass, even with no bytes to write: an empty frame can still go.
            for (;;) {
                if (!distributor.distribute(bytesToWrite, writer) || (bytesToWrite = writableBytes()) <= 0 || !isChannelWritable0()) {
                    break;
                }
            }
        } finally {
            inWritePendingBytes = false;
        }
    }

    private boolean isChannelWritable() {
        return ctx != null && isChannelWritable0();
    }

    private boolean isChannelWritable0() {
        return ctx.channel().isWritable();
    }

    private int minUsableChannelBytes() {
        return Math.max(ctx.channel().config().getWriteBufferLowWaterMark(), MIN_WRITABLE_CHUNK);
    }

    private int maxUsableChannelBytes() {
        int channelWritableBytes = (int) Math.min(Integer.MAX_VALUE, ctx.channel().bytesBeforeUnwritable());
        int usableBytes = channelWritableBytes > 0 ? Math.max(channelWritableBytes, minUsableChannelBytes()) : 0;
        return Math.min(connectionState.window, usableBytes);
    }

    private int writableBytes() {
        return Math.min(connectionState.window, maxUsableChannelBytes());
    }

    private boolean isWritableConnection() {
        return connectionState.window - totalPendingBytes > 0 && isChannelWritable();
    }

    private boolean isWritable(State s) {
        return isWritableConnection() && s.isWritable();
    }

    // --- the listener: told, per stream, when isWritable changes (Netty's ListenerWritabilityMonitor) ---

    private void checkStateWritability(State s) throws Http2Exception {
        if (listener == null) {
            return;
        }
        if (isWritable(s) != s.markedWritable) {
            if (s == connectionState) {
                checkAllWritabilityChanged();
            } else {
                notifyWritabilityChanged(s);
            }
        }
    }

    private void checkConnectionThenStreamWritabilityChanged(State s) throws Http2Exception {
        if (listener == null) {
            return;
        }
        if (isWritableConnection() != connectionState.markedWritable) {
            checkAllWritabilityChanged();
        } else if (isWritable(s) != s.markedWritable) {
            notifyWritabilityChanged(s);
        }
    }

    /** Tells the listener of each active stream whose writability changed (one object for every call, as Netty's). */
    private final Http2StreamVisitor writabilityChecker = stream -> {
        State s = state(stream);
        if (isWritable(s) != s.markedWritable) {
            notifyWritabilityChanged(s);
        }
        return true;
    };

    private void checkAllWritabilityChanged() throws Http2Exception {
        connectionState.markedWritable = isWritableConnection();
        connection.forEachActiveStream(writabilityChecker);
    }

    private void notifyWritabilityChanged(State s) {
        s.markedWritable = !s.markedWritable;
        try {
            listener.writabilityChanged(s.stream);
        } catch (Throwable cause) {
            log.error("{} listener failed on the writability of {}", ctx.channel(), s.stream, cause);
        }
    }

    /** The distributor's hands: the bytes a stream may write now. */
    private final class Writer implements StreamByteDistributor.Writer {
        @Override
        public void write(Http2Stream stream, int numBytes) {
            // A stream let go of may still be queued in the distributor (failing what waited on a
            // closed stream tells it of the frames left, as Netty's does): it has nothing to write.
            State s = find(stream);
            if (s != null) {
                s.writeAllocatedBytes(numBytes);
            }
        }
    }

    /** A stream's (or the connection's) send state: its window, and the frames that wait for it. */
    private final class State implements StreamByteDistributor.StreamState {
        final Http2Stream stream;
        int window;
        long pendingBytes;
        /** The first frame waiting; null when none waits. */
        FlowControlled first;
        /** Those behind {@link #first}, made when a second one waits; null or empty otherwise. */
        ArrayDeque<FlowControlled> rest;
        boolean markedWritable;
        boolean writing;
        boolean cancelled;

        State(Http2Stream stream) {
            this.stream = stream;
        }

        @Override
        public Http2Stream stream() {
            return stream;
        }

        @Override
        public int windowSize() {
            return window;
        }

        @Override
        public long pendingBytes() {
            return pendingBytes;
        }

        @Override
        public boolean hasFrame() {
            return first != null;
        }

        boolean isWritable() {
            return window > pendingBytes && !cancelled;
        }

        private FlowControlled poll() {
            FlowControlled f = first;
            first = rest != null ? rest.poll() : null;
            return f;
        }

        private FlowControlled last() {
            return rest != null && !rest.isEmpty() ? rest.peekLast() : first;
        }

        private void offer(FlowControlled frame) {
            if (first == null) {
                first = frame;
            } else {
                if (rest == null) {
                    rest = new ArrayDeque<>(2);
                }
                rest.offer(frame);
            }
        }

        /** Writes what it may of its frames with {@code allocated} bytes: the number written, or -1 if no frame was written to. */
        int writeAllocatedBytes(int allocated) {
            int initialAllocated = allocated;
            int writtenBytes;
            Throwable cause = null;
            FlowControlled frame;
            try {
                assert !writing;
                writing = true;
                boolean writeOccurred = false;
                while (!cancelled && (frame = first) != null) {
                    int maxBytes = Math.min(allocated, writableWindow());
                    if (maxBytes <= 0 && frame.size() > 0) {
                        break; // bytes left, none allowed: no empty frame
                    }
                    writeOccurred = true;
                    int initialFrameSize = frame.size();
                    try {
                        frame.write(ctx, Math.max(0, maxBytes));
                        if (frame.size() == 0) {
                            // Taken off first, so that a cancel below does not fail it.
                            poll();
                            frame.writeComplete();
                        }
                    } finally {
                        allocated -= initialFrameSize - frame.size();
                    }
                }
                if (!writeOccurred) {
                    return -1;
                }
            } catch (Throwable t) {
                cancelled = true; // what waits is failed below
                cause = t;
            } finally {
                writing = false;
                writtenBytes = initialAllocated - allocated;
                decrementPendingBytes(writtenBytes, false);
                decrementFlowControlWindow(writtenBytes);
                if (cancelled) {
                    cancel(INTERNAL_ERROR, cause); // cancelled while writing: fail what waits now
                }
            }
            return writtenBytes;
        }

        int incrementStreamWindow(int delta) throws Http2Exception {
            if (delta > 0 && Integer.MAX_VALUE - delta < window) {
                throw streamError(stream.id(), FLOW_CONTROL_ERROR, "Window size overflow for stream: %d", stream.id());
            }
            window += delta;
            distributor.updateStreamableBytes(this);
            return window;
        }

        private int writableWindow() {
            return Math.min(window, connectionState.window);
        }

        void enqueueFrame(FlowControlled frame) {
            FlowControlled last = last();
            if (last != null) {
                int lastSize = last.size();
                if (last.merge(ctx, frame)) {
                    incrementPendingBytes(last.size() - lastSize, true);
                    return;
                }
            }
            offer(frame);
            incrementPendingBytes(frame.size(), true); // after the offer: hasFrame() must be true first
        }

        void cancel(Http2Error error, Throwable cause) {
            cancelled = true;
            if (writing) {
                return; // the write in progress fails what is left when it ends
            }
            FlowControlled frame = poll();
            if (frame != null) {
                Http2Exception exception = streamError(stream.id(), error, cause, "Stream closed before write could take place");
                do {
                    writeError(frame, exception);
                    frame = poll();
                } while (frame != null);
            }
            distributor.updateStreamableBytes(this);
            try {
                checkConnectionThenStreamWritabilityChanged(this);
            } catch (Http2Exception e) {
                throw new RuntimeException("Caught unexpected exception from checkAllWritabilityChanged", e);
            }
        }

        private void incrementPendingBytes(int numBytes, boolean updateStreamableBytes) {
            pendingBytes += numBytes;
            totalPendingBytes += numBytes;
            if (updateStreamableBytes) {
                distributor.updateStreamableBytes(this);
            }
        }

        private void decrementPendingBytes(int bytes, boolean updateStreamableBytes) {
            incrementPendingBytes(-bytes, updateStreamableBytes);
        }

        private void decrementFlowControlWindow(int bytes) {
            try {
                connectionState.incrementStreamWindow(-bytes);
                incrementStreamWindow(-bytes);
            } catch (Http2Exception e) {
                throw new IllegalStateException("Invalid window state when writing frame: " + e.getMessage(), e);
            }
        }

        private void writeError(FlowControlled frame, Http2Exception cause) {
            decrementPendingBytes(frame.size(), true);
            frame.error(ctx, cause);
        }
    }
}
