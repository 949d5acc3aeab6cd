package dev.ward.proxy.http;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Caps the open connections of one listener: a connection over the limit is closed at once,
 * before any TLS or HTTP work. Shared by every connection of the listener.
 */
@ChannelHandler.Sharable
public final class ConnectionLimiter extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(ConnectionLimiter.class);

    private final String listener;
    private final int max;
    private final AtomicInteger open = new AtomicInteger();
    private static final io.netty.util.AttributeKey<Boolean> REFUSED = io.netty.util.AttributeKey.valueOf("ward.overLimit");

    public ConnectionLimiter(String listener, int max) {
        this.listener = listener;
        this.max = max;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        if (open.incrementAndGet() > max) {
            open.decrementAndGet(); // a refused connection never counts as open
            ctx.channel().attr(REFUSED).set(Boolean.TRUE);
            log.warn("{}: refusing connection from {}: {} connections open (limits.maxConnections)",
                    listener, ctx.channel().remoteAddress(), max);
            ctx.close();
            return;
        }
        ctx.fireChannelActive();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (ctx.channel().attr(REFUSED).get() == null) {
            open.decrementAndGet();
        }
        ctx.fireChannelInactive();
    }

    public int open() {
        return open.get();
    }
}
