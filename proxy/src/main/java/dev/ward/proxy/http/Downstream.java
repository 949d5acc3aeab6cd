package dev.ward.proxy.http;

import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpObject;

/**
 * Where a {@link ProxyHandler}'s requests come from and its responses go: an HTTP/1.1 connection
 * ({@link #of}), or one stream of an HTTP/2 connection ({@link Http2Streams}). Writes take no
 * promise: a failed write closes the connection or resets the stream, which the handler then
 * hears of as the end of its downstream.
 */
interface Downstream {

    /** The caller's connection: its peer identity, its addresses, the listener's event loop. */
    Channel connection();

    default EventLoop eventLoop() {
        return connection().eventLoop();
    }

    default ByteBufAllocator alloc() {
        return connection().alloc();
    }

    /** Queues a message for the caller; {@link #flush} sends what is queued. */
    void write(HttpObject msg);

    void flush();

    /** Writes and flushes {@code msg}; then, if {@code thenClose}, closes this downstream once it is out. */
    void writeAndFlush(HttpObject msg, boolean thenClose);

    /** Whether the caller takes more now (the socket's buffer, and on HTTP/2 the stream's send window). */
    boolean isWritable();

    boolean isActive();

    /** Whether the caller's next messages are read now, or held (with the bytes behind them) until this turns true. */
    void setAutoRead(boolean on);

    /** Ends it now: closes an HTTP/1.1 connection, resets an HTTP/2 stream that is still open (CANCEL). */
    void close();

    /** HTTP/2: refuses the stream (REFUSED_STREAM, which a caller may safely retry elsewhere). */
    void refuse();

    /** The HTTP/1.1 connection of {@code ctx} (its handler's context) as a downstream; HTTP/2 streams are {@link Http2Streams}'. */
    static Downstream of(ChannelHandlerContext ctx) {
        Http1Downstream d = new Http1Downstream();
        d.ctx = ctx;
        return d;
    }

    /** An HTTP/1.1 connection as a downstream. */
    final class Http1Downstream extends Http1Side implements Downstream {
        private Http1Downstream() {
        }

        @Override
        public void writeAndFlush(HttpObject msg, boolean thenClose) {
            if (thenClose) {
                ctx.writeAndFlush(msg).addListener(ChannelFutureListener.CLOSE);
            } else {
                ctx.writeAndFlush(msg, ctx.voidPromise());
            }
        }

        /** Not asked of a connection (only an HTTP/2 stream is refused); closing is the connection's nearest answer. */
        @Override
        public void refuse() {
            ctx.close();
        }
    }
}
