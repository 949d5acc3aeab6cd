package dev.ward.proxy.inbound;

import dev.ward.authz.identity.SpiffeId;
import dev.ward.proxy.tls.HandshakeRefusals;
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

    private final HandshakeRefusals refusals;

    public PeerIdentityHandler(HandshakeRefusals refusals) {
        this.refusals = refusals;
    }

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
                refusals.record("no_spiffe_id");
                ctx.close();
                return;
            }
            ctx.channel().attr(PeerIdentity.KEY).set(id);
            refusals.succeeded(true);
            ctx.pipeline().remove(this);
        }
        ctx.fireUserEventTriggered(evt);
    }

    private void logRefusal(ChannelHandlerContext ctx, Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t instanceof PeerVerificationException) {
                return; // SpiffeTrustManager already logged the reason with the peer's address
            }
        }
        String msg = cause.getMessage() != null ? cause.getMessage() : cause.getClass().getSimpleName();
        String reason = "handshake_failed";
        if (msg.contains("PEER_DID_NOT_RETURN_A_CERTIFICATE") || msg.contains("certificate required")) {
            msg = "no client certificate (mTLS is required)";
            reason = "no_client_certificate";
        } else if (msg.contains("timed out")) {
            reason = "handshake_timeout";
        } else if (msg.contains("_ALERT_")) {
            String alert = msg.substring(msg.indexOf("_ALERT_") + 7).toLowerCase(java.util.Locale.ROOT);
            msg = "the client sent TLS alert '" + alert + "' (it refused this sidecar's certificate or TLS parameters)";
            reason = "client_alert";
        } else if (cause instanceof java.nio.channels.ClosedChannelException || msg.contains("ClosedChannel")) {
            msg = "the client closed the connection during the handshake (e.g. no common TLS version: TLS 1.2+ is required)";
            reason = "closed_during_handshake";
        }
        refusals.record(reason);
        log.warn("refused connection from {}: TLS handshake failed: {}", ctx.channel().remoteAddress(), msg);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // Handshake errors arrive here too; the completion event already logged and closed.
        ctx.close();
    }
}
