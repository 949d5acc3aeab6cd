package dev.ward.proxy.http;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;

/**
 * Holds the flushes of an HTTP/2 connection between sidecars until the event loop has done what it
 * is doing, then makes one: Netty's {@code FlushConsolidationHandler} with
 * {@code consolidateWhenNoReadInProgress}, as {@link HttpPipelines#consolidateFlushes} used it,
 * without its garbage. Netty's schedules the deferred flush with {@code submit}, a new task and
 * future each time (a deferred flush happens about once per request on a sidecar's HTTP/2
 * connection, whose flushes come from the callers' and the app's connections, not from its own
 * reads); this one queues one reusable task with {@code execute} and remembers that it did.
 *
 * <p>The rules are Netty's: while the connection itself is reading, flushes wait for its
 * {@code channelReadComplete}, or go at once every {@code explicitFlushAfterFlushes}-th; otherwise
 * they wait for the task, which runs after what the event loop has queued already. Anything
 * pending is flushed before a close, a disconnect or an exception goes on, when the channel stops
 * being writable, and when this handler is removed.
 */
final class FlushConsolidator extends ChannelDuplexHandler {

    private final int explicitFlushAfterFlushes;
    private ChannelHandlerContext ctx;
    private int flushPendingCount;
    private boolean readInProgress;
    /** The task is queued on the event loop and has not run yet. */
    private boolean flushScheduled;

    private final Runnable flushTask = () -> {
        flushScheduled = false;
        if (flushPendingCount > 0 && !readInProgress && !ctx.isRemoved()) {
            flushPendingCount = 0;
            ctx.flush();
        }
    };

    FlushConsolidator(int explicitFlushAfterFlushes) {
        if (explicitFlushAfterFlushes <= 0) {
            throw new IllegalArgumentException("explicitFlushAfterFlushes must be positive: " + explicitFlushAfterFlushes);
        }
        this.explicitFlushAfterFlushes = explicitFlushAfterFlushes;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        if (++flushPendingCount == explicitFlushAfterFlushes) {
            flushNow(ctx);
        } else if (!readInProgress && !flushScheduled) {
            flushScheduled = true;
            ctx.executor().execute(flushTask);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        readInProgress = true;
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        resetReadAndFlushIfNeeded(ctx);
        ctx.fireChannelReadComplete();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        resetReadAndFlushIfNeeded(ctx);
        ctx.fireExceptionCaught(cause);
    }

    @Override
    public void disconnect(ChannelHandlerContext ctx, ChannelPromise promise) {
        resetReadAndFlushIfNeeded(ctx);
        ctx.disconnect(promise);
    }

    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
        resetReadAndFlushIfNeeded(ctx);
        ctx.close(promise);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (!ctx.channel().isWritable()) {
            flushIfNeeded(ctx); // let what is held go out, so that the channel can drain
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        flushIfNeeded(ctx);
    }

    private void resetReadAndFlushIfNeeded(ChannelHandlerContext ctx) {
        readInProgress = false;
        flushIfNeeded(ctx);
    }

    private void flushIfNeeded(ChannelHandlerContext ctx) {
        if (flushPendingCount > 0) {
            flushNow(ctx);
        }
    }

    /** A queued task that finds nothing pending when it runs does nothing. */
    private void flushNow(ChannelHandlerContext ctx) {
        flushPendingCount = 0;
        ctx.flush();
    }
}
