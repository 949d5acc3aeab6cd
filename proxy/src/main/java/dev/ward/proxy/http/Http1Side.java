package dev.ward.proxy.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpObject;

/**
 * An HTTP/1.1 connection as one side of an exchange uses it, through the context of Ward's handler
 * on it: the caller's connection ({@link Downstream#of}) or a pooled connection to a backend
 * ({@link Http1Upstream}). Writes take the void promise: a failed write fires
 * {@code exceptionCaught} on the connection, whose handler closes it, and the exchange hears of
 * the close, without a promise per write.
 */
abstract class Http1Side {

    /** The context of Ward's handler on the connection; set when the handler is added. */
    ChannelHandlerContext ctx;

    public Channel connection() {
        return ctx.channel();
    }

    public void write(HttpObject msg) {
        ctx.write(msg, ctx.voidPromise());
    }

    public void flush() {
        ctx.flush();
    }

    public boolean isWritable() {
        return ctx.channel().isWritable();
    }

    public boolean isActive() {
        return ctx.channel().isActive();
    }

    public void setAutoRead(boolean on) {
        ctx.channel().config().setAutoRead(on);
    }

    public void close() {
        ctx.close();
    }

    @Override
    public String toString() {
        return ctx == null ? "HTTP/1.1 connection (not yet added)" : ctx.channel().toString();
    }
}
