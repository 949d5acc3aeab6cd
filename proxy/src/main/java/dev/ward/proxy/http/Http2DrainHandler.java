package dev.ward.proxy.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.Http2ConnectionAdapter;
import io.netty.handler.codec.http2.Http2Stream;

/**
 * Drains one HTTP/2 server connection on {@link Drain#EVENT}: new streams are refused with
 * {@code REFUSED_STREAM} (by {@link ProxyHandler}; safe for clients to retry, RFC 9113 8.7), and
 * once the last active stream has finished, GOAWAY(NO_ERROR) is sent and the connection closed.
 *
 * <p>GOAWAY waits for the streams on purpose: the JDK's HTTP/2 client (up to at least JDK 21)
 * fails every open stream when GOAWAY arrives, whatever its last-stream-id, so an early GOAWAY
 * would cut off exactly the requests a drain exists to finish.
 */
final class Http2DrainHandler extends ChannelInboundHandlerAdapter {

    private boolean draining;

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt != Drain.EVENT) {
            ctx.fireUserEventTriggered(evt);
            return;
        }
        if (draining) {
            return;
        }
        draining = true;
        Http2Streams codec = ctx.pipeline().get(Http2Streams.class);
        if (codec == null) {
            ctx.close();
            return;
        }
        if (codec.connection().numActiveStreams() == 0) {
            codec.goAwayAndClose();
            return;
        }
        codec.connection().addListener(new Http2ConnectionAdapter() {
            @Override
            public void onStreamClosed(Http2Stream stream) {
                if (codec.connection().numActiveStreams() == 0) {
                    // Leave the stream's last frames to be flushed first.
                    ctx.executor().execute(codec::goAwayAndClose);
                }
            }
        });
    }
}
