package dev.ward.proxy.tls;

import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.List;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;

/**
 * JDK {@link SSLContext}s for Ward's identities, for code that is a plain TLS client of a
 * sidecar (the demo, tests, tools): optional client certificate, and the server verified
 * SPIFFE-style by {@link SpiffeTrustManager} (DNS names are not checked; the id is).
 */
public final class JdkTls {

    private JdkTls() {}

    /**
     * A client context presenting {@code chain}/{@code key} (both null: no client certificate)
     * and trusting servers that chain to {@code bundle} in {@code trustDomain}.
     */
    public static SSLContext client(List<X509Certificate> chain, PrivateKey key, List<X509Certificate> bundle,
                                    String trustDomain) throws GeneralSecurityException {
        KeyManager[] kms = null;
        if (chain != null && key != null) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            try {
                ks.load(null, null);
            } catch (java.io.IOException e) {
                throw new GeneralSecurityException(e);
            }
            char[] pw = "ward".toCharArray();
            ks.setKeyEntry("id", key, pw, chain.toArray(new X509Certificate[0]));
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, pw);
            kms = kmf.getKeyManagers();
        }
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kms, new TrustManager[] {new SpiffeTrustManager(bundle, trustDomain, Clock.systemUTC())}, new SecureRandom());
        return ctx;
    }

    /** A client context for an identity loaded by {@link IdentityMaterial}. */
    public static SSLContext client(IdentityMaterial m) throws GeneralSecurityException {
        return client(m.chain(), m.key(), m.bundle(), m.id().trustDomain());
    }
}
