package io.netty.handler.codec.http2;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;

/**
 * Opens a stream on an HTTP/2 connection Ward made, as {@code Http2StreamChannelBootstrap.open()}
 * does, without the bootstrap's two promises and listener: the multiplexer's package-private
 * {@code newOutboundStream()} (this class is in Netty's package for it, as {@link WardHttp2Guards}
 * is), the stream's one handler added, and the stream registered on its connection's event loop,
 * which for a stream channel completes at once. A sidecar opens one per request to the next
 * sidecar. Netty 4.2.18, pinned in the parent pom; on an upgrade, compare with the bootstrap's
 * {@code open0}.
 */
public final class WardOutboundStreams {

    private WardOutboundStreams() {}

    /**
     * A new stream on the connection whose {@link Http2MultiplexHandler} is at {@code mux}, with
     * {@code handler} its only handler, registered and active. Called on the connection's event
     * loop. Throws what the multiplexer throws when no stream can be opened (the connection has
     * gone, or its stream ids or the server's limit are spent).
     */
    public static Http2StreamChannel open(ChannelHandlerContext mux, ChannelHandler handler) {
        assert mux.executor().inEventLoop();
        Http2StreamChannel stream = ((Http2MultiplexHandler) mux.handler()).newOutboundStream();
        try {
            stream.pipeline().addLast(handler);
        } catch (RuntimeException e) {
            stream.unsafe().closeForcibly();
            throw e;
        }
        stream.unsafe().register(mux.channel().eventLoop(), stream.voidPromise()); // fires registered and active
        return stream;
    }
}
