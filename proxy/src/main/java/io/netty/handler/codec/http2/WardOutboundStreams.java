package io.netty.handler.codec.http2;

/**
 * Makes a new, not yet opened stream on an HTTP/2 connection Ward made, for
 * {@code dev.ward.proxy.http.Http2Streams}: the frame codec's package-private {@code newStream()}
 * (this class is in Netty's package for it, as {@link WardHttp2Guards} is), which Netty's own
 * {@code Http2ChannelDuplexHandler.newStream()} calls. The stream gets its id when its first
 * HEADERS frame is written through the codec. Netty 4.2.18, pinned in the parent pom.
 */
public final class WardOutboundStreams {

    private WardOutboundStreams() {}

    /** A new stream of {@code codec}'s connection, with no id until its first HEADERS frame is written. */
    public static Http2FrameStream newStream(Http2FrameCodec codec) {
        return codec.newStream();
    }
}
