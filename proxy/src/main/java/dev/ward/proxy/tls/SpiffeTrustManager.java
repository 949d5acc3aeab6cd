package dev.ward.proxy.tls;

import dev.ward.authz.identity.SpiffeId;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.cert.CertPathValidator;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.PKIXReason;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.Arrays;
import java.util.Date;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Verifies a peer's certificate SPIFFE-style, for both directions of mTLS: the chain must
 * validate (PKIX, signatures and validity dates) to a CA in the trust bundle, the leaf must not
 * be a CA, and it must carry exactly one URI SAN, a valid {@code spiffe://} id in the
 * configured trust domain. DNS names are never the identity and never checked.
 *
 * <p>Fails closed: any doubt throws {@link PeerVerificationException}, which aborts the
 * handshake; the reason is logged once per refusal with the peer's address.
 */
public final class SpiffeTrustManager extends X509ExtendedTrustManager {

    private static final Logger log = LoggerFactory.getLogger(SpiffeTrustManager.class);

    private final Set<TrustAnchor> anchors;
    private final X509Certificate[] acceptedIssuers;
    private final String trustDomain;
    private final Clock clock;
    private final HandshakeRefusals refusals;

    public SpiffeTrustManager(List<X509Certificate> bundle, String trustDomain, Clock clock) {
        this(bundle, trustDomain, clock, null);
    }

    /** {@code refusals}, if not null, counts every refusal by reason. */
    public SpiffeTrustManager(List<X509Certificate> bundle, String trustDomain, Clock clock, HandshakeRefusals refusals) {
        if (bundle.isEmpty()) {
            throw new IllegalArgumentException("bundle: empty (expected: at least one CA certificate)");
        }
        Set<TrustAnchor> a = new HashSet<>();
        for (X509Certificate c : bundle) {
            a.add(new TrustAnchor(c, null));
        }
        this.anchors = Set.copyOf(a);
        this.acceptedIssuers = bundle.toArray(new X509Certificate[0]);
        this.trustDomain = SpiffeId.requireTrustDomain(trustDomain);
        this.clock = clock;
        this.refusals = refusals;
    }

    /**
     * Checks {@code chain} (leaf first) and returns the peer's SPIFFE id.
     *
     * @throws PeerVerificationException with the reason it was refused
     */
    public SpiffeId verify(X509Certificate[] chain) throws PeerVerificationException {
        if (chain == null || chain.length == 0) {
            throw new PeerVerificationException("no_certificate", "the peer sent no certificate");
        }
        X509Certificate leaf = chain[0];
        validatePath(chain);
        if (leaf.getBasicConstraints() >= 0) {
            throw new PeerVerificationException("leaf_is_ca", "the peer's certificate is a CA certificate");
        }
        List<String> uris = Pem.uriSans(leaf);
        long spiffeUris = uris.stream().filter(u -> u.startsWith("spiffe:")).count();
        if (spiffeUris == 0) {
            throw new PeerVerificationException("no_spiffe_id",
                    "the peer's certificate has no spiffe:// URI SAN (subject " + leaf.getSubjectX500Principal() + ")");
        }
        if (uris.size() != 1) {
            throw new PeerVerificationException("ambiguous_spiffe_id",
                    "the peer's certificate has " + uris.size() + " URI SANs " + uris + " (expected: exactly one)");
        }
        SpiffeId id;
        try {
            id = SpiffeId.parse(uris.get(0));
        } catch (IllegalArgumentException e) {
            throw new PeerVerificationException("invalid_spiffe_id", e.getMessage());
        }
        if (!id.trustDomain().equals(trustDomain)) {
            throw new PeerVerificationException("wrong_trust_domain",
                    "peer " + id + " is not in trust domain " + trustDomain);
        }
        return id;
    }

    private void validatePath(X509Certificate[] chain) throws PeerVerificationException {
        try {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            // Drop any anchor the peer included itself; PKIX wants the path without it.
            List<X509Certificate> path = Arrays.stream(chain)
                    .filter(c -> anchors.stream().noneMatch(a -> a.getTrustedCert().equals(c)))
                    .toList();
            if (path.isEmpty()) {
                throw new PeerVerificationException("leaf_is_ca", "the peer presented a trust-bundle CA as its certificate");
            }
            PKIXParameters params = new PKIXParameters(anchors);
            params.setRevocationEnabled(false);
            params.setDate(Date.from(clock.instant()));
            CertPathValidator.getInstance("PKIX").validate(cf.generateCertPath(path), params);
        } catch (CertPathValidatorException e) {
            throw new PeerVerificationException(reasonOf(e), describe(e, chain[0]), e);
        } catch (PeerVerificationException e) {
            throw e;
        } catch (GeneralSecurityException e) {
            throw new PeerVerificationException("invalid_chain", e.getMessage(), e);
        }
    }

    private String reasonOf(CertPathValidatorException e) {
        CertPathValidatorException.Reason r = e.getReason();
        if (r == CertPathValidatorException.BasicReason.EXPIRED) {
            return "expired";
        }
        if (r == CertPathValidatorException.BasicReason.NOT_YET_VALID) {
            return "not_yet_valid";
        }
        if (r == PKIXReason.NO_TRUST_ANCHOR) {
            return "unknown_ca";
        }
        if (r == CertPathValidatorException.BasicReason.INVALID_SIGNATURE) {
            return "bad_signature";
        }
        return "invalid_chain";
    }

    private String describe(CertPathValidatorException e, X509Certificate leaf) {
        CertPathValidatorException.Reason r = e.getReason();
        if (r == CertPathValidatorException.BasicReason.EXPIRED) {
            return "the peer's certificate chain has expired (leaf not after " + leaf.getNotAfter().toInstant() + ")";
        }
        if (r == PKIXReason.NO_TRUST_ANCHOR) {
            return "the peer's certificate (issuer " + leaf.getIssuerX500Principal() + ") does not chain to the trust bundle";
        }
        return String.valueOf(e.getMessage());
    }

    private void check(X509Certificate[] chain, String side, String peer) throws CertificateException {
        try {
            verify(chain);
        } catch (PeerVerificationException e) {
            log.warn("refused {} certificate from {}: {}", side, peer, e.getMessage());
            if (refusals != null) {
                refusals.record(side.equals("server") ? "upstream_" + e.reason() : e.reason());
            }
            throw e;
        }
    }

    private static String peerOf(SSLEngine engine) {
        return engine == null || engine.getPeerHost() == null ? "unknown peer" : engine.getPeerHost() + ":" + engine.getPeerPort();
    }

    private static String peerOf(Socket socket) {
        return socket == null ? "unknown peer" : String.valueOf(socket.getRemoteSocketAddress());
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        check(chain, "client", peerOf(engine));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        check(chain, "server", peerOf(engine));
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        check(chain, "client", peerOf(socket));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        check(chain, "server", peerOf(socket));
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        check(chain, "client", "unknown peer");
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        check(chain, "server", "unknown peer");
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return acceptedIssuers.clone();
    }
}
