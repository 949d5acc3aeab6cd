package dev.ward.proxy.tls;

import dev.ward.authz.identity.SpiffeId;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;

/**
 * This sidecar's identity, loaded from files and checked once: the certificate chain (leaf
 * first), its private key, and the trust bundle. Loading fails with a message naming the file
 * and what is wrong: unreadable, expired, not yet valid, key does not match the certificate, no
 * single SPIFFE id, leaf does not chain to the bundle.
 */
public record IdentityMaterial(
        SpiffeId id,
        List<X509Certificate> chain,
        PrivateKey key,
        List<X509Certificate> bundle,
        String fingerprint) {

    /** Loads and validates the three files at {@code clock}'s now. */
    public static IdentityMaterial load(Path cert, Path key, Path bundle, Clock clock) throws IOException {
        List<X509Certificate> chain = Pem.readCertificates(cert);
        PrivateKey privateKey = Pem.readPrivateKey(key);
        List<X509Certificate> cas = Pem.readCertificates(bundle);
        X509Certificate leaf = chain.get(0);
        Instant now = clock.instant();
        if (now.isAfter(leaf.getNotAfter().toInstant())) {
            throw new IOException(cert + ": certificate expired at " + leaf.getNotAfter().toInstant());
        }
        if (now.isBefore(leaf.getNotBefore().toInstant())) {
            throw new IOException(cert + ": certificate not valid before " + leaf.getNotBefore().toInstant());
        }
        if (!keyMatches(privateKey, leaf)) {
            throw new IOException(key + ": private key does not match the certificate in " + cert);
        }
        List<String> uris = Pem.uriSans(leaf);
        if (uris.size() != 1) {
            throw new IOException(cert + ": expected exactly one spiffe:// URI SAN, found " + uris);
        }
        SpiffeId id;
        try {
            id = SpiffeId.parse(uris.get(0));
        } catch (IllegalArgumentException e) {
            throw new IOException(cert + ": " + e.getMessage(), e);
        }
        try {
            new SpiffeTrustManager(cas, id.trustDomain(), clock).verify(chain.toArray(new X509Certificate[0]));
        } catch (PeerVerificationException e) {
            throw new IOException(cert + ": this sidecar's own certificate would be refused by its peers: "
                    + e.getMessage() + " (bundle " + bundle + ")", e);
        }
        return new IdentityMaterial(id, List.copyOf(chain), privateKey, List.copyOf(cas),
                fingerprint(cert, key, bundle));
    }

    /** When the leaf certificate expires. */
    public Instant notAfter() {
        return chain.get(0).getNotAfter().toInstant();
    }

    /** A digest of the three files' bytes, to notice a change without parsing. */
    public static String fingerprint(Path cert, Path key, Path bundle) throws IOException {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            for (Path p : new Path[] {cert, key, bundle}) {
                d.update(Files.readAllBytes(p));
                d.update(p.toString().getBytes(StandardCharsets.UTF_8));
            }
            return HexFormat.of().formatHex(d.digest());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static boolean keyMatches(PrivateKey key, X509Certificate cert) throws IOException {
        String alg = switch (key.getAlgorithm()) {
            case "EC" -> "SHA256withECDSA";
            case "RSA" -> "SHA256withRSA";
            case "Ed25519", "EdDSA" -> "Ed25519";
            default -> throw new IOException("unsupported private key algorithm " + key.getAlgorithm()
                    + " (expected: EC, RSA or Ed25519)");
        };
        try {
            byte[] probe = "ward key check".getBytes(StandardCharsets.US_ASCII);
            Signature s = Signature.getInstance(alg);
            s.initSign(key);
            s.update(probe);
            byte[] sig = s.sign();
            Signature v = Signature.getInstance(alg);
            v.initVerify(cert.getPublicKey());
            v.update(probe);
            return v.verify(sig);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    @Override
    public String toString() {
        return "IdentityMaterial[" + id + ", expires " + notAfter() + "]";
    }
}
