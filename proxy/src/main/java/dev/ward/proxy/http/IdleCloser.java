package dev.ward.proxy.http;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.timeout.IdleStateEvent;

/**
 * Closes a connection on the {@link IdleStateEvent} of the {@code IdleStateHandler} before it. On
 * an HTTP/2 connection the pair sits before the codec, so every frame counts as traffic, and a
 * connection with streams still open is not idle (a slow response is the stream timeouts' business);
 * the close goes through the codec, which says GOAWAY first.
 */
@ChannelHandler.Sharable
public final class IdleCloser extends ChannelInboundHandlerAdapter {

    public static final IdleCloser INSTANCE = new IdleCloser();

    private IdleCloser() {}

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof IdleStateEvent) {
            Http2FrameCodec h2 = ctx.pipeline().get(Http2FrameCodec.class);
            if (h2 == null) {
                ctx.close();
            } else if (h2.connection().numActiveStreams() == 0) {
                ctx.channel().close();
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }
}
