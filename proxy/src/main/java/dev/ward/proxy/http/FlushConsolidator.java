package dev.ward.proxy.http;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;

/**
 * Holds the flushes of an HTTP/2 connection between sidecars until its event loop has handled
 * what it read, then makes them as one ({@link HttpPipelines#consolidateFlushes}). Netty's
 * {@code FlushConsolidationHandler(256, true)} does the same, but each flush asked for outside a
 * read of the connection itself (on a sidecar, every one: a request or response is relayed from
 * a caller's connection or the app's) submits its flush task anew, a {@code PromiseTask} of 40 B
 * per request and a future to cancel when a read flushes first. Here the task is one
 * {@code Runnable}, put on the loop's queue when no run of it is pending; a run that finds nothing
 * to flush (a read flushed first) does nothing. The rest is Netty's: a flush asked for during a
 * read waits for {@code channelReadComplete}; the 256th held flush is made at once; held flushes
 * are made before a close or disconnect, on an error, when the connection becomes unwritable
 * (to free the memory they hold) and when the handler leaves.
 */
final class FlushConsolidator extends ChannelDuplexHandler {

    /** Flushes held before one is made regardless, as Netty's {@code DEFAULT_EXPLICIT_FLUSH_AFTER_FLUSHES}. */
    static final int EXPLICIT_FLUSH_AFTER_FLUSHES = 256;

    private ChannelHandlerContext ctx;
    private int pending;
    private boolean readInProgress;
    /** {@link #flushTask} is on the event loop's queue and has not run yet. */
    private boolean scheduled;

    private final Runnable flushTask = () -> {
        scheduled = false;
        if (pending > 0 && !readInProgress) { // else a read is in progress: its end flushes
            flushNow();
        }
    };

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        if (++pending == EXPLICIT_FLUSH_AFTER_FLUSHES) {
            flushNow();
        } else if (!readInProgress && !scheduled) {
            scheduled = true;
            ctx.executor().execute(flushTask); // after what the loop is doing now, before it waits again
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        readInProgress = true;
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        readInProgress = false;
        flushIfPending();
        ctx.fireChannelReadComplete();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        readInProgress = false;
        flushIfPending();
        ctx.fireExceptionCaught(cause);
    }

    @Override
    public void disconnect(ChannelHandlerContext ctx, ChannelPromise promise) {
        readInProgress = false;
        flushIfPending();
        ctx.disconnect(promise);
    }

    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
        readInProgress = false;
        flushIfPending();
        ctx.close(promise);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (!ctx.channel().isWritable()) {
            flushIfPending(); // what is held is memory the peer has not taken yet: send it
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        flushIfPending();
    }

    private void flushIfPending() {
        if (pending > 0) {
            flushNow();
        }
    }

    private void flushNow() {
        pending = 0;
        ctx.flush();
    }
}
