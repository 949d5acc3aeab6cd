package dev.ward.proxy.http;

import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2HeadersEncoder;
import io.netty.handler.codec.http2.Http2Settings;
import java.util.function.Supplier;

/** HTTP/2 connections for tests: Ward's own handler, and the peers the tests drive with frames. */
final class H2Peers {

    private H2Peers() {}

    /**
     * Netty's frame codec over Ward's decoder and encoder ({@link HttpPipelines#h2Codec}): a peer
     * the tests write frames to and read frames from, with the same reader, writer, header maps and
     * checks as Ward's own side.
     */
    static Http2FrameCodec frameCodec(boolean server, Http2Settings settings) {
        HttpPipelines.H2Codec codec = HttpPipelines.h2Codec(server, settings, Http2HeadersEncoder.NEVER_SENSITIVE);
        return new Http2FrameCodecBuilder() {
            {
                codec(codec.decoder(), codec.encoder());
            }

            @Override
            public boolean isServer() {
                return server;
            }
        }.initialSettings(settings).gracefulShutdownTimeoutMillis(0).build();
    }

    /** A listener's HTTP/2 handler, as {@link HttpPipelines#http2} makes it, serving each stream with a handler from {@code handlers}. */
    static Http2Streams server(Http2Settings settings, Supplier<? extends Http2Streams.StreamHandler> handlers) {
        return Http2Streams.of(true, HttpPipelines.h2Codec(true, settings, Http2HeadersEncoder.NEVER_SENSITIVE), settings, handlers);
    }
}
