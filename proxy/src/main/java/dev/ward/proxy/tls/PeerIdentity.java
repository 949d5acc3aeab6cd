package dev.ward.proxy.tls;

import dev.ward.authz.identity.SpiffeId;
import io.netty.channel.Channel;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.AttributeKey;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * The authenticated SPIFFE id of the peer on a TLS connection, read once after the handshake
 * (the chain was already verified by {@link SpiffeTrustManager}) and kept as a channel
 * attribute.
 */
public final class PeerIdentity {

    /** Set on the connection channel once its handshake succeeded. */
    public static final AttributeKey<SpiffeId> KEY = AttributeKey.valueOf("ward.peerIdentity");

    private PeerIdentity() {}

    /** Reads the peer's id from a completed session, or null if it has none. */
    public static SpiffeId fromSession(SSLSession session) {
        try {
            Certificate[] certs = session.getPeerCertificates();
            if (certs.length == 0 || !(certs[0] instanceof X509Certificate leaf)) {
                return null;
            }
            List<String> uris = Pem.uriSans(leaf);
            return uris.size() == 1 ? SpiffeId.parse(uris.get(0)) : null;
        } catch (SSLPeerUnverifiedException | IllegalArgumentException e) {
            return null;
        }
    }

    /** Reads the peer's id after the handshake of {@code ch}'s SslHandler. */
    public static SpiffeId fromHandshake(Channel ch) {
        SslHandler ssl = ch.pipeline().get(SslHandler.class);
        return ssl == null ? null : fromSession(ssl.engine().getSession());
    }

    /** The peer id of this connection (or of its parent, for a child channel), or null. */
    public static SpiffeId of(Channel ch) {
        for (Channel c = ch; c != null; c = c.parent()) {
            if (!c.hasAttr(KEY)) { // attr() would add an empty attribute to a channel asked (an object and a copy of its table)
                continue;
            }
            SpiffeId id = c.attr(KEY).get();
            if (id != null) {
                return id;
            }
        }
        return null;
    }
}
