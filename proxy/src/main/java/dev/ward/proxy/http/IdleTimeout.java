package dev.ward.proxy.http;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Ticker;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Closes a connection that has neither read nor flushed anything for {@code timeout}. On an
 * HTTP/2 connection it sits before the codec, so every frame counts as traffic, and a connection
 * with streams still open is not idle (a slow response is the stream timeouts' business); the
 * close goes through the codec, which says GOAWAY first.
 *
 * <p>In place of Netty's {@code IdleStateHandler(0, 0, timeout)}, which counts a write when it
 * completes and so turns every write's void promise into a real one with a listener: about
 * 110 bytes and a listener call per write, on every connection of the forwarding path. This
 * counts a flush as it is made. A peer that stops reading stops Ward's flushes too (Ward stops
 * relaying when a channel is not writable), so such a connection still goes idle and is closed.
 */
public final class IdleTimeout extends ChannelDuplexHandler {

    private final long timeoutNanos;
    private Ticker ticker;
    private long lastActivity;
    private boolean reading;
    private boolean started;
    private Future<?> check;

    public IdleTimeout(Duration timeout) {
        this.timeoutNanos = timeout.toNanos();
        if (timeoutNanos <= 0) {
            throw new IllegalArgumentException("idle timeout must be positive: " + timeout);
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        ticker = ctx.executor().ticker();
        if (ctx.channel().isActive() && ctx.channel().isRegistered()) {
            start(ctx);
        }
    }

    @Override
    public void channelRegistered(ChannelHandlerContext ctx) {
        if (ctx.channel().isActive()) {
            start(ctx);
        }
        ctx.fireChannelRegistered();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        start(ctx);
        ctx.fireChannelActive();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        stop();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        stop();
        ctx.fireChannelInactive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        reading = true;
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (reading) {
            reading = false;
            lastActivity = ticker.nanoTime();
        }
        ctx.fireChannelReadComplete();
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        lastActivity = ticker.nanoTime();
        ctx.flush();
    }

    private void start(ChannelHandlerContext ctx) {
        if (started) {
            return;
        }
        started = true;
        lastActivity = ticker.nanoTime();
        checkIn(ctx, timeoutNanos);
    }

    private void checkIn(ChannelHandlerContext ctx, long nanos) {
        check = ctx.executor().schedule(() -> check(ctx), nanos, TimeUnit.NANOSECONDS);
    }

    private void stop() {
        started = true; // never (re)start once removed or inactive
        if (check != null) {
            check.cancel(false);
            check = null;
        }
    }

    private void check(ChannelHandlerContext ctx) {
        if (check == null || !ctx.channel().isOpen()) {
            return;
        }
        long quietFor = ticker.nanoTime() - lastActivity;
        if (reading || quietFor < timeoutNanos) {
            checkIn(ctx, reading ? timeoutNanos : timeoutNanos - quietFor);
            return;
        }
        Http2Streams h2 = ctx.pipeline().get(Http2Streams.class);
        if (h2 == null) {
            check = null;
            ctx.close();
        } else if (h2.connection().numActiveStreams() == 0) {
            check = null;
            ctx.channel().close();
        } else {
            lastActivity = ticker.nanoTime(); // streams open: look again in a whole timeout
            checkIn(ctx, timeoutNanos);
        }
    }
}
