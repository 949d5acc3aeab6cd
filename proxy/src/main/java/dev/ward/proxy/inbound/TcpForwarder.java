package dev.ward.proxy.inbound;

import dev.ward.authz.identity.AllowList;
import dev.ward.authz.identity.SpiffeId;
import dev.ward.proxy.tls.PeerIdentity;
import dev.ward.proxy.transport.Transports;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code protocol: tcp}: after the mTLS handshake, checks the peer against the allow-list
 * (identity-only authorization; a denied peer is logged and closed) and then relays raw bytes
 * to the app, one read per completed write in each direction (Netty's HexDumpProxy pattern), so
 * a slow side slows the other instead of filling memory.
 */
public final class TcpForwarder extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(TcpForwarder.class);

    private final AllowList allow;
    private final InetSocketAddress app;
    private final Class<? extends Channel> channelType;
    private Channel outbound;
    private boolean authorized;
    /** Bytes that arrived with the end of the handshake, before the app connection was up. */
    private final java.util.ArrayDeque<Object> early = new java.util.ArrayDeque<>();

    public TcpForwarder(AllowList allow, InetSocketAddress app, Class<? extends Channel> channelType) {
        this.allow = allow;
        this.app = app;
        this.channelType = channelType;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        ctx.channel().config().setAutoRead(false);
        ctx.fireChannelActive();
        ctx.read(); // drive the TLS handshake
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof SslHandshakeCompletionEvent e && e.isSuccess()) {
            SpiffeId peer = PeerIdentity.of(ctx.channel());
            if (!allow.allows(peer)) {
                log.warn("denied tcp connection from {} ({}): identity_not_allowed", peer, ctx.channel().remoteAddress());
                ctx.close();
                return;
            }
            authorized = true;
            Channel in = ctx.channel();
            Bootstrap b = new Bootstrap().group(in.eventLoop()).channel(channelType)
                    .option(ChannelOption.AUTO_READ, false)
                    .option(ChannelOption.ALLOCATOR, Transports.ALLOCATOR)
                    .handler(new Relay(in));
            b.connect(app).addListener((ChannelFutureListener) f -> {
                if (f.isSuccess()) {
                    outbound = f.channel();
                    for (Object m; (m = early.poll()) != null; ) {
                        outbound.write(m);
                    }
                    outbound.flush();
                    in.read();
                } else {
                    log.warn("tcp: cannot reach the app at {}: {}", app, f.cause().getMessage());
                    in.close();
                }
            });
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (outbound == null) {
            if (authorized) {
                early.add(msg);
            } else {
                ReferenceCountUtil.release(msg);
            }
            return;
        }
        outbound.writeAndFlush(msg).addListener((ChannelFutureListener) f -> {
            if (f.isSuccess()) {
                ctx.channel().read();
            } else {
                f.channel().close();
                ctx.close();
            }
        });
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (!authorized) {
            ctx.read(); // still handshaking
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        for (Object m; (m = early.poll()) != null; ) {
            ReferenceCountUtil.release(m);
        }
        closeOnFlush(outbound);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("tcp: closing {}: {}", ctx.channel().remoteAddress(), cause.toString());
        closeOnFlush(ctx.channel());
    }

    static void closeOnFlush(Channel ch) {
        if (ch != null && ch.isActive()) {
            ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }

    /** App to peer. */
    private static final class Relay extends ChannelInboundHandlerAdapter {
        private final Channel in;

        Relay(Channel in) {
            this.in = in;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.read();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            in.writeAndFlush(msg).addListener((ChannelFutureListener) f -> {
                if (f.isSuccess()) {
                    ctx.channel().read();
                } else {
                    ctx.close();
                }
            });
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            closeOnFlush(in);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            closeOnFlush(ctx.channel());
        }
    }
}
