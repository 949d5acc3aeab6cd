package dev.ward.proxy.inbound;

import dev.ward.authz.identity.SpiffeId;
import dev.ward.proxy.tls.PeerIdentity;
import dev.ward.proxy.tls.PeerVerificationException;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Consumes nothing; watches for the {@link SslHandshakeCompletionEvent}. On success it sets the
 * connection's {@link PeerIdentity#KEY} from the verified certificate, passes the event on (ALPN
 * selection needs it) and removes itself. On failure it logs why and closes (fails closed); a
 * connection without a verified SPIFFE id never reaches any handler after this one.
 */
public final class PeerIdentityHandler extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(PeerIdentityHandler.class);

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof SslHandshakeCompletionEvent e) {
            if (!e.isSuccess()) {
                logRefusal(ctx, e.cause());
                ctx.close();
                return;
            }
            SpiffeId id = PeerIdentity.fromHandshake(ctx.channel());
            if (id == null) {
                log.warn("refused connection from {}: no spiffe id after handshake", ctx.channel().remoteAddress());
                ctx.close();
                return;
            }
            ctx.channel().attr(PeerIdentity.KEY).set(id);
            ctx.pipeline().remove(this);
        }
        ctx.fireUserEventTriggered(evt);
    }

    private static void logRefusal(ChannelHandlerContext ctx, Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t instanceof PeerVerificationException) {
                return; // SpiffeTrustManager already logged the reason with the peer's address
            }
        }
        String msg = String.valueOf(cause.getMessage());
        if (msg.contains("PEER_DID_NOT_RETURN_A_CERTIFICATE") || msg.contains("certificate required")) {
            msg = "no client certificate (mTLS is required)";
        }
        log.warn("refused connection from {}: TLS handshake failed: {}", ctx.channel().remoteAddress(), msg);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // Handshake errors arrive here too; the completion event already logged and closed.
        ctx.close();
    }
}
