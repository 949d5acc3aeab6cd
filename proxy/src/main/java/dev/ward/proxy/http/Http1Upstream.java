package dev.ward.proxy.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpObject;
import io.netty.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A pooled HTTP/1.1 connection as an {@link Upstream}: the handler it keeps for its whole life,
 * behind its HTTP codec and before its guard ({@link ConnectionPool} installs it). The exchange
 * using the connection sets itself as the relay and clears it on release, rather than adding a
 * handler to the pipeline and removing it again every exchange (about 1% of an event loop, with a
 * context object, a name check and a handler-mask lookup each time). Without a relay, events pass
 * on to the guard, which closes a connection that answers unasked.
 */
public final class Http1Upstream extends ChannelInboundHandlerAdapter implements Upstream {

    private static final Logger log = LoggerFactory.getLogger(Http1Upstream.class);
    /** Its name in the connection's pipeline. */
    static final String NAME = "ward-relay";

    private ChannelHandlerContext ctx;
    private Relay relay;
    private Object attachment;
    /** Taken from the idle list (it carried an exchange before). */
    boolean reused;
    /**
     * Its completed future, handed to whoever takes it from the idle list: made the first time it
     * is reused and kept, so that a reuse (every request but a connection's first) allocates nothing.
     */
    Future<Upstream> acquired;

    /** Adds one at the end of {@code p} (Ward's pooled connections; a test's or benchmark's stand-in for one). */
    public static Http1Upstream addTo(ChannelPipeline p) {
        Http1Upstream u = new Http1Upstream();
        p.addLast(NAME, u);
        return u;
    }

    /** The one on {@code ch}, or null. */
    public static Http1Upstream of(Channel ch) {
        return (Http1Upstream) ch.pipeline().get(NAME);
    }

    @Override
    public boolean isSharable() {
        return false;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    // --- Upstream ---

    @Override
    public Channel connection() {
        return ctx.channel();
    }

    @Override
    public boolean multiplexed() {
        return false;
    }

    @Override
    public boolean reused() {
        return reused;
    }

    @Override
    public void relayTo(Relay relay) {
        this.relay = relay;
    }

    /**
     * A void promise: a failed write fires {@code exceptionCaught} on the connection, which closes
     * it (see {@link #exceptionCaught}), without a promise per write.
     */
    @Override
    public void write(HttpObject msg) {
        ctx.write(msg, ctx.voidPromise());
    }

    @Override
    public void flush() {
        ctx.flush();
    }

    @Override
    public boolean isWritable() {
        return ctx.channel().isWritable();
    }

    @Override
    public boolean isActive() {
        return ctx.channel().isActive();
    }

    @Override
    public void setAutoRead(boolean on) {
        ctx.channel().config().setAutoRead(on);
    }

    @Override
    public void close() {
        ctx.channel().close();
    }

    @Override
    public Object attachment() {
        return attachment;
    }

    @Override
    public void attach(Object attachment) {
        this.attachment = attachment;
    }

    // --- the connection's events ---

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Relay r = relay;
        if (r != null) {
            r.read(this, msg);
        } else {
            ctx.fireChannelRead(msg);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        Relay r = relay;
        if (r != null) {
            r.readComplete(this);
        }
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        Relay r = relay;
        if (r != null) {
            r.writabilityChanged(this);
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        Relay r = relay;
        if (r != null) {
            r.inactive(this);
        }
        ctx.fireChannelInactive();
    }

    /** A failed write, a decoder or TLS error: the connection is closed (its relay hears it go). */
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("closing {} after error: {}", ctx.channel(), cause.toString());
        ctx.close();
    }

    @Override
    public String toString() {
        return ctx == null ? "http1 upstream" : ctx.channel().toString();
    }
}
