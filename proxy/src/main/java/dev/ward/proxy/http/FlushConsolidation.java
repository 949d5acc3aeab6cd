package dev.ward.proxy.http;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;

/**
 * Holds a connection's flushes and makes them as one: while the connection is reading, until its
 * read is done; otherwise in a task that runs once the event loop has finished what it is doing,
 * so that the flushes of every stream relayed in the same pass of the loop (the requests of many
 * callers, read on their own connections) become one TLS record and one {@code write}. After
 * {@code flushAfterFlushes} held flushes, one is made at once.
 *
 * <p>This is what Netty's {@code FlushConsolidationHandler(n, true)} does, without its one
 * allocation per pass: it queues its task with {@code submit}, which wraps the task in a
 * {@code PromiseTask} each time (an object and its completion), and cancels that future when a
 * flush overtakes it. On a connection between sidecars that task is queued for nearly every
 * request or response that is not relayed inside the connection's own read, so the
 * {@code PromiseTask} was about 80 bytes of each HTTP/2 request ({@code PipelineBenchmark}
 * {@code h2conn}, async-profiler {@code alloc}). Here the one task is queued with {@code execute},
 * which allocates nothing, and is not cancelled: a task that finds nothing held (a flush overtook
 * it) does nothing, and a flush held after it was overtaken queues a fresh task behind the stale
 * one rather than ride on it, so that the writes made in between are still batched, as Netty's
 * cancel-and-resubmit has them.
 */
final class FlushConsolidation extends ChannelDuplexHandler implements Runnable {

    private final int flushAfterFlushes;
    private ChannelHandlerContext ctx;
    private int held;
    private boolean reading;
    /** Tasks in the event loop's queue, and how many of those (the oldest) a flush has overtaken. */
    private int queued;
    private int stale;

    FlushConsolidation(int flushAfterFlushes) {
        if (flushAfterFlushes <= 0) {
            throw new IllegalArgumentException("flushAfterFlushes must be positive: " + flushAfterFlushes);
        }
        this.flushAfterFlushes = flushAfterFlushes;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        if (++held == flushAfterFlushes) {
            flushNow(ctx);
        } else if (!reading && queued == stale) {
            queued++;
            ctx.channel().eventLoop().execute(this);
        }
        // else: the read's end, or the task already queued, makes it
    }

    /** The queued task. */
    @Override
    public void run() {
        queued--;
        if (stale > 0) {
            stale--; // overtaken: the task behind it (if any) is the live one
            return;
        }
        if (held > 0 && !reading) {
            held = 0;
            ctx.flush();
        } // while a read is in progress, its end flushes
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        reading = true;
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        readDone(ctx);
        ctx.fireChannelReadComplete();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        readDone(ctx);
        ctx.fireExceptionCaught(cause);
    }

    @Override
    public void disconnect(ChannelHandlerContext ctx, ChannelPromise promise) {
        readDone(ctx);
        ctx.disconnect(promise);
    }

    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
        readDone(ctx);
        ctx.close(promise);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (!ctx.channel().isWritable() && held > 0) {
            flushNow(ctx); // what is held goes out now, to free the memory it holds
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (held > 0) {
            flushNow(ctx);
        }
    }

    private void readDone(ChannelHandlerContext ctx) {
        reading = false;
        if (held > 0) {
            flushNow(ctx);
        }
    }

    private void flushNow(ChannelHandlerContext ctx) {
        stale = queued; // every queued task is overtaken
        held = 0;
        ctx.flush();
    }
}
