package dev.ward.proxy.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A pooled HTTP/1.1 connection as an {@link Upstream}, with the handler the connection keeps for
 * its whole life, behind its HTTP codec and before its guard ({@link ConnectionPool} installs it).
 * The exchange using the connection sets itself as the relay and clears it on release, rather
 * than adding a handler to the pipeline and removing it again every exchange (about 1% of an
 * event loop, with a context object, a name check and a handler-mask lookup each time). Without a
 * relay, events pass on to the guard, which closes a connection that answers unasked.
 */
public final class Http1Upstream extends Http1Side implements Upstream {

    private static final Logger log = LoggerFactory.getLogger(Http1Upstream.class);
    /** Its handler's name in the connection's pipeline. */
    static final String NAME = "ward-relay";

    private Relay relay;
    private Object attachment;
    /** Taken from the idle list (it carried an exchange before). */
    boolean reused;
    /**
     * Its completed future, handed to whoever takes it from the idle list: made the first time it
     * is reused and kept, so that a reuse (every request but a connection's first) allocates nothing.
     */
    Future<Upstream> acquired;

    private Http1Upstream() {
    }

    /**
     * Adds one's handler at the end of {@code p}, a registered channel's pipeline (Ward's pooled
     * connections; a test's or benchmark's stand-in for one), and returns it.
     */
    public static Http1Upstream addTo(ChannelPipeline p) {
        Http1Upstream u = new Http1Upstream();
        p.addLast(NAME, u.new Handler());
        if (u.ctx == null) {
            throw new IllegalStateException("the connection is not registered yet: " + p.channel());
        }
        return u;
    }

    /** The one on {@code ch}, or null. */
    public static Http1Upstream of(Channel ch) {
        return ch.pipeline().get(NAME) instanceof Handler h ? h.upstream() : null;
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

    @Override
    public Object attachment() {
        return attachment;
    }

    @Override
    public void attach(Object attachment) {
        this.attachment = attachment;
    }

    /** The connection's events, for the relay (or, without one, for the guard behind). */
    private final class Handler extends ChannelInboundHandlerAdapter {

        Http1Upstream upstream() {
            return Http1Upstream.this;
        }

        @Override
        public boolean isSharable() {
            return false;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            Http1Upstream.this.ctx = ctx;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            Relay r = relay;
            if (r != null) {
                r.read(Http1Upstream.this, msg);
            } else {
                ctx.fireChannelRead(msg);
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            Relay r = relay;
            if (r != null) {
                r.readComplete(Http1Upstream.this);
            }
            ctx.fireChannelReadComplete();
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            Relay r = relay;
            if (r != null) {
                r.writabilityChanged(Http1Upstream.this);
            }
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            Relay r = relay;
            if (r != null) {
                r.inactive(Http1Upstream.this);
            }
            ctx.fireChannelInactive();
        }

        /** A failed write, a decoder or TLS error: the connection is closed (its relay hears it go). */
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("closing {} after error: {}", ctx.channel(), cause.toString());
            ctx.close();
        }
    }
}
