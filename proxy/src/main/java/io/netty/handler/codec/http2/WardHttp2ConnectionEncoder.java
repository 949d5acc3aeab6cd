package io.netty.handler.codec.http2;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpStatusClass;

/**
 * Netty's connection encoder, with a DATA frame handed to the flow controller as one small object.
 *
 * <p>{@link DefaultHttp2ConnectionEncoder} wraps every DATA frame it is given in a
 * {@code FlowControlledData}, which holds the data in a {@code CoalescingBufferQueue} (an
 * {@code ArrayDeque} and its 16-slot array) so that it can merge frames queued behind a closed
 * window, and which chains the caller's promise to the write's through a notifier, a second
 * listener on the write's promise. A sidecar writes a body of one buffer per message, which the
 * window lets through at once, and those objects were about a tenth of what an HTTP/2 request
 * allocated ({@code PipelineBenchmark} {@code h2conn}, async-profiler {@code alloc}). Here such a
 * frame is a {@link Data}: the buffer, the caller's promise, and a write promise per frame
 * written, whose listener completes the caller's after the last. It does what
 * {@code FlowControlledData} does for one buffer without padding:
 * <ul>
 * <li>it is written as far as the flow controller allows: the whole of it, or a slice of what the
 * window allows and the rest later; the caller's promise completes with the last write, or fails
 * with the first that fails;
 * <li>a write that fails, or a frame the flow controller cancels (the stream reset, the connection
 * closed), releases what was not written, fails the caller's promise and tells the connection
 * ({@code onError}, as Netty does);
 * <li>the frame that ends the stream closes the stream's local side once it is written
 * ({@code closeStreamLocal}); where that closes the whole stream (its remote side has ended), it
 * does so from the write's own listener once the write is done, rather than through another
 * listener on the caller's promise.
 * </ul>
 * A frame given a void promise (Ward's streams write every frame so) makes no promise of its own
 * at all: its writes go with the void promise, a failed write is the connection's (which closes
 * it, and every stream with it), and the frame that ends the stream closes it as it is written
 * (before the flush that follows), as Netty closes one whose write is already done. A stream's
 * close then must not close the connection before that flush: {@code Http2Streams}, whose close
 * has no grace period, never waits on its streams to close.
 *
 * It does not merge with the frames queued after it, where {@code FlowControlledData} would
 * merge them into one write once the window opens: each goes as its own DATA frame, as the caller
 * wrote it. Everything else (padded frames, an empty frame that does not end the stream, a stream
 * that does not exist or is not open for sending, which Netty fails) is Netty's.
 */
public final class WardHttp2ConnectionEncoder extends DecoratingHttp2ConnectionEncoder {

    /** The connection's handler: it sets itself here as it is made, before any frame is written. */
    private Http2LifecycleManager lifecycleManager;

    public WardHttp2ConnectionEncoder(DefaultHttp2ConnectionEncoder delegate) {
        super(delegate);
    }

    @Override
    public void lifecycleManager(Http2LifecycleManager lifecycleManager) {
        this.lifecycleManager = lifecycleManager;
        super.lifecycleManager(lifecycleManager);
    }

    /**
     * A void promise is kept void here (Netty's encoder would make a promise of it): the writer of
     * a stream's body that needs no word of the write (Ward's streams hear of a failed write as the
     * connection's error, {@link #lifecycleManager}) allocates nothing for it.
     */
    @Override
    public ChannelFuture writeData(ChannelHandlerContext ctx, int streamId, ByteBuf data, int padding,
            boolean endOfStream, ChannelPromise promise) {
        Http2Stream stream = connection().stream(streamId);
        if (padding != 0 || stream == null || !(data.isReadable() || endOfStream)
                || (stream.state() != Http2Stream.State.OPEN && stream.state() != Http2Stream.State.HALF_CLOSED_REMOTE)) {
            return super.writeData(ctx, streamId, data, padding, endOfStream, promise);
        }
        flowController().addFlowControlled(stream, new Data(stream, data, endOfStream, promise));
        return promise;
    }

    /**
     * A stream's first head, with a void promise, on an open stream (or, if it does not end the
     * stream, one whose peer has ended its side): encoded and written here, as Netty's encoder
     * writes it, without the promise Netty's encoder would make of the void one and the listener
     * it hangs on it. The cases of a response's head on a stream the caller opened, and of a
     * request's head on a stream Ward opened (which makes the stream on the connection itself
     * first, as Netty's encoder would). Netty's encoder does the rest (a head that closes the
     * stream, trailers, 1xx heads, padding, a stream not yet made or in any other state), and a
     * writer other than Ward's.
     *
     * <p>What Netty's encoder does for these cases, this does: the HPACK encoding's failure (a head
     * larger than the peer's header list limit) is the connection handler's stream error; the
     * stream is marked as having sent its head once the head is encoded; a head that ends the
     * stream closes its local side. A failure of the write itself goes unheard, as with any void
     * promise: it is the connection's, which closes it.
     */
    @Override
    public ChannelFuture writeHeaders(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int padding,
            boolean endStream, ChannelPromise promise) {
        Http2Stream stream;
        if (!promise.isVoid() || padding != 0 || !(frameWriter() instanceof WardHttp2FrameWriter writer)
                || (stream = connection().stream(streamId)) == null || stream.isHeadersSent() || stream.isTrailersSent()
                || !(stream.state() == Http2Stream.State.OPEN
                        || !endStream && stream.state() == Http2Stream.State.HALF_CLOSED_REMOTE)
                || endStream && flowController().hasFlowControlled(stream)
                || connection().isServer() && HttpStatusClass.valueOf(headers.status()) == HttpStatusClass.INFORMATIONAL) {
            return super.writeHeaders(ctx, streamId, headers, padding, endStream, promise);
        }
        ByteBuf block;
        try {
            block = writer.encodeHeaderBlock(ctx, streamId, headers);
        } catch (Throwable t) {
            lifecycleManager.onError(ctx, true, t);
            return promise;
        }
        stream.headersSent(false);
        ChannelFuture f = writer.writeHeaderBlock(ctx, streamId, block, endStream, promise);
        if (endStream) {
            lifecycleManager.closeStreamLocal(stream, f); // OPEN: its local side closes now, the future unused
        }
        return f;
    }

    /** One DATA frame's buffer waiting for the flow controller, and the promise of who wrote it. */
    private final class Data implements Http2RemoteFlowController.FlowControlled, ChannelFutureListener {
        private final Http2Stream stream;
        private final boolean endOfStream;
        private final ChannelPromise promise;
        /** What is not yet written; null once all is, or once it has failed (and was released). */
        private ByteBuf data;
        /** Bytes not yet written, for the flow controller; kept after a failure until {@link #write} next runs (as Netty keeps it). */
        private int size;
        /** The promise of the write that holds the last bytes: the caller's promise completes with it. */
        private ChannelFuture last;
        /** The stream closes when {@link #last} is done (it ends the stream, whose remote side has ended). */
        private boolean closeWhenWritten;

        Data(Http2Stream stream, ByteBuf data, boolean endOfStream, ChannelPromise promise) {
            this.stream = stream;
            this.data = data;
            this.endOfStream = endOfStream;
            this.promise = promise;
            this.size = data.readableBytes();
        }

        @Override
        public int size() {
            return size;
        }

        @Override
        public void write(ChannelHandlerContext ctx, int allowedBytes) {
            if (data == null) { // failed (error below) while queued: nothing to send, and its bytes go back
                size = 0;
                return;
            }
            int n = Math.min(size, Math.max(allowedBytes, 0));
            if (n == 0 && size > 0) {
                return;
            }
            // A void promise stays void: no promise and no listener per write (see writeComplete).
            ChannelPromise written = promise.isVoid() ? promise : ctx.newPromise().addListener(this);
            ByteBuf part;
            if (n == size) {
                part = data;
                data = null;
                last = written;
            } else {
                part = data.readRetainedSlice(n);
            }
            size -= n;
            frameWriter().writeData(ctx, stream.id(), part, 0, endOfStream && size == 0, written);
        }

        @Override
        public void writeComplete() {
            if (!endOfStream) {
                return;
            }
            if (promise.isVoid()) {
                // No write's outcome is heard here: the stream's local side closes now, as Netty closes
                // it for a write already done, and the whole stream with it if its remote side has
                // ended. The frame is written, not yet flushed; the connection handler flushes it
                // next, and closes no connection on a stream's close (Http2Streams: no grace period).
                lifecycleManager.closeStreamLocal(stream, flowController().channelHandlerContext().newSucceededFuture());
                return;
            }
            if (stream.state() == Http2Stream.State.HALF_CLOSED_REMOTE && last != null && !last.isDone()) {
                // The stream closes once this last write is done: Netty would hang a listener (and a
                // lambda) on the caller's promise for that; the write's promise has ours already.
                closeWhenWritten = true;
            } else {
                lifecycleManager.closeStreamLocal(stream, promise); // done by now (its last write completed it), unless only the local side closes
            }
        }

        @Override
        public void error(ChannelHandlerContext ctx, Throwable cause) {
            if (data != null) {
                data.release();
                data = null;
            }
            promise.tryFailure(cause);
            if (ctx != null) {
                lifecycleManager.onError(ctx, true, cause);
            }
        }

        @Override
        public boolean merge(ChannelHandlerContext ctx, Http2RemoteFlowController.FlowControlled next) {
            return false;
        }

        /** A write of this frame's bytes is done: a failure fails the frame; the last one's success is the caller's. */
        @Override
        public void operationComplete(ChannelFuture future) {
            if (!future.isSuccess()) {
                error(flowController().channelHandlerContext(), future.cause());
            } else if (future == last) {
                promise.trySuccess();
            }
            if (future == last && closeWhenWritten) {
                closeWhenWritten = false;
                lifecycleManager.closeStreamLocal(stream, future); // done: closes it now
            }
        }
    }
}
