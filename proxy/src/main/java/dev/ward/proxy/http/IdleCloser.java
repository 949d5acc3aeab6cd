package dev.ward.proxy.http;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.timeout.IdleStateEvent;

/** Closes a connection on the {@link IdleStateEvent} of the {@code IdleStateHandler} before it. */
@ChannelHandler.Sharable
public final class IdleCloser extends ChannelInboundHandlerAdapter {

    public static final IdleCloser INSTANCE = new IdleCloser();

    private IdleCloser() {}

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof IdleStateEvent) {
            ctx.close();
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }
}
