package dev.ward.proxy.http;

import dev.ward.proxy.config.SidecarConfig;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerExpectContinueHandler;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.timeout.IdleStateHandler;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/** The HTTP server pipelines every listener shares, for HTTP/1.1 and for HTTP/2. */
public final class HttpPipelines {

    private HttpPipelines() {}

    /** HTTP/1.1: codec with size limits, 100-continue answered locally, header and idle timeouts. */
    public static void http1(ChannelPipeline p, SidecarConfig.Limits limits, Supplier<ProxyHandler> handler) {
        p.addLast("http", new HttpServerCodec(limits.maxInitialLineLength(), limits.maxHeaderSize(), 8192));
        p.addLast("expect", new HttpServerExpectContinueHandler());
        p.addLast("header-timeout", new HeaderReadTimeoutHandler(limits.headerReadTimeout()));
        p.addLast("idle", new IdleStateHandler(0, 0, limits.idleTimeout().toMillis(), TimeUnit.MILLISECONDS));
        p.addLast("idle-close", IdleCloser.INSTANCE);
        p.addLast("proxy", handler.get());
    }

    /**
     * HTTP/2: one connection, each stream its own child channel converted to HTTP objects, so
     * the same {@link ProxyHandler} serves both protocols. Drains with {@link Http2DrainHandler}.
     */
    public static void http2(ChannelPipeline p, SidecarConfig.Limits limits, Supplier<ProxyHandler> handler) {
        Http2Settings settings = Http2Settings.defaultSettings()
                .maxConcurrentStreams(limits.maxConcurrentStreams())
                .maxHeaderListSize(limits.maxHeaderSize());
        p.addLast("h2", Http2FrameCodecBuilder.forServer().initialSettings(settings).validateHeaders(true).build());
        p.addLast("h2-mux", new Http2MultiplexHandler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast("h2-http", new Http2StreamFrameToHttpObjectCodec(true));
                ch.pipeline().addLast("proxy", handler.get());
            }
        }));
        p.addLast("idle", new IdleStateHandler(0, 0, limits.idleTimeout().toMillis(), TimeUnit.MILLISECONDS));
        p.addLast("idle-close", IdleCloser.INSTANCE);
        p.addLast("h2-drain", new Http2DrainHandler());
    }
}
