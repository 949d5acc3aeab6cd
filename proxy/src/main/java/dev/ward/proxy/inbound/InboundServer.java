package dev.ward.proxy.inbound;

import dev.ward.authz.identity.AllowList;
import dev.ward.proxy.config.SidecarConfig;
import dev.ward.proxy.http.ConnectionLimiter;
import dev.ward.proxy.http.Drain;
import dev.ward.telemetry.RequestTelemetry;
import dev.ward.proxy.http.HttpPipelines;
import dev.ward.proxy.http.ProxyHandler;
import dev.ward.proxy.tls.TlsContexts;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.handler.ssl.SslHandler;
import java.util.function.Supplier;

/**
 * The inbound listener's per-connection pipeline: connection limit → TLS with a required
 * client certificate (the server context is read per connection, so a rotated identity takes
 * effect for new handshakes) → {@link PeerIdentityHandler} → by ALPN, HTTP/2 or HTTP/1.1 into
 * {@link ProxyHandler} with {@link InboundRouter}; or, for {@code protocol: tcp}, the
 * {@link TcpForwarder}.
 */
public final class InboundServer extends ChannelInitializer<Channel> {

    private final SidecarConfig config;
    private final TlsContexts tls;
    private final ConnectionLimiter limiter;
    private final Drain drain;
    private final Supplier<AllowList> allow;
    private final InboundRouter router;
    private final RequestTelemetry telemetry;
    /** The socket channel class of the sidecar's transport, for the TCP forwarder's connections to the app. */
    private final Class<? extends Channel> channelType;

    public InboundServer(SidecarConfig config, TlsContexts tls, Drain drain, Supplier<AllowList> allow,
                         InboundRouter router, RequestTelemetry telemetry, Class<? extends Channel> channelType) {
        this.channelType = channelType;
        this.config = config;
        this.tls = tls;
        this.drain = drain;
        this.allow = allow;
        this.limiter = new ConnectionLimiter("inbound", config.limits().maxConnections());
        this.router = router;
        this.telemetry = telemetry;
    }

    private ProxyHandler newProxy(boolean http2Stream) {
        return new ProxyHandler(router, http2Stream, "inbound", drain, telemetry);
    }

    @Override
    protected void initChannel(Channel ch) {
        drain.track(ch);
        boolean tcp = config.inbound().protocol() == SidecarConfig.Protocol.TCP;
        // Peer host and port let TLS errors be logged with the peer's address.
        java.net.InetSocketAddress remote = (java.net.InetSocketAddress) ch.remoteAddress();
        SslHandler ssl = (tcp ? tls.serverRaw() : tls.server()).newHandler(ch.alloc(), remote.getHostString(), remote.getPort());
        ssl.setHandshakeTimeoutMillis(config.tls().handshakeTimeout().toMillis());
        ch.pipeline().addLast("limit", limiter);
        ch.pipeline().addLast("tls", ssl);
        ch.pipeline().addLast("peer-identity", new PeerIdentityHandler(tls.refusals()));
        if (tcp) {
            ch.pipeline().addLast("tcp", new TcpForwarder(allow.get(), config.inbound().app().toSocketAddress(),
                    channelType));
            return;
        }
        ch.pipeline().addLast("alpn", new ApplicationProtocolNegotiationHandler(ApplicationProtocolNames.HTTP_1_1) {
            @Override
            protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
                if (ApplicationProtocolNames.HTTP_2.equals(protocol)) {
                    HttpPipelines.http2(ctx.pipeline(), config.limits(), () -> newProxy(true));
                } else if (ApplicationProtocolNames.HTTP_1_1.equals(protocol)) {
                    HttpPipelines.http1(ctx.pipeline(), config.limits(), () -> newProxy(false));
                } else {
                    throw new IllegalStateException("unsupported ALPN protocol: " + protocol);
                }
            }
        });
    }

    public ConnectionLimiter limiter() {
        return limiter;
    }
}
