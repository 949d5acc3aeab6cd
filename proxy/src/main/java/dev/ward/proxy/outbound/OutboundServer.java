package dev.ward.proxy.outbound;

import dev.ward.proxy.config.SidecarConfig;
import dev.ward.proxy.http.ConnectionLimiter;
import dev.ward.proxy.http.Drain;
import dev.ward.telemetry.RequestTelemetry;
import dev.ward.proxy.http.HttpPipelines;
import dev.ward.proxy.http.ProxyHandler;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;

/**
 * An outbound listener's per-connection pipeline: the app speaks plain HTTP/1.1 on loopback, or
 * HTTP/2 with prior knowledge (h2c);
 * each request is routed by {@link OutboundRouter} and forwarded over mTLS by the upstream's
 * connection pool. One instance per listener (the shared one, and each per-upstream port).
 */
public final class OutboundServer extends ChannelInitializer<Channel> {

    private final SidecarConfig.Limits limits;
    private final ConnectionLimiter limiter;
    private final Drain drain;
    private final OutboundRouter router;
    private final RequestTelemetry telemetry;

    public OutboundServer(String name, SidecarConfig.Limits limits, Drain drain, OutboundRouter router,
                          RequestTelemetry telemetry) {
        this.limits = limits;
        this.drain = drain;
        this.router = router;
        this.telemetry = telemetry;
        this.limiter = new ConnectionLimiter(name, limits.maxConnections());
    }

    public ConnectionLimiter limiter() {
        return limiter;
    }

    @Override
    protected void initChannel(Channel ch) {
        drain.track(ch);
        ch.pipeline().addLast("limit", limiter);
        HttpPipelines.cleartext(ch.pipeline(), limits,
                () -> new ProxyHandler(router, false, "outbound", drain, telemetry),
                () -> new ProxyHandler(router, true, "outbound", drain, telemetry));
    }
}
