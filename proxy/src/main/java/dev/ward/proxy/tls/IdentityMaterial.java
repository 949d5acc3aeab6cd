package dev.ward.proxy.tls;

import dev.ward.authz.identity.SpiffeId;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.interfaces.RSAPublicKey;
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
        Pem.KeyFile keyFile = Pem.readKey(key);
        PrivateKey privateKey = keyFile.key();
        List<X509Certificate> cas = Pem.readCertificates(bundle);
        X509Certificate leaf = chain.get(0);
        Instant now = clock.instant();
        if (now.isAfter(leaf.getNotAfter().toInstant())) {
            throw new IOException(cert + ": certificate expired at " + leaf.getNotAfter().toInstant());
        }
        if (now.isBefore(leaf.getNotBefore().toInstant())) {
            throw new IOException(cert + ": certificate not valid before " + leaf.getNotBefore().toInstant());
        }
        if (!keyMatches(keyFile, leaf)) {
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

    /**
     * Whether the key file's key belongs to the certificate. Where the file says which public key
     * it belongs to (an EC or Ed25519 key stored with its public key, as OpenSSL, Go and Ward's
     * own CA write them; an RSA key's modulus and exponent), that is compared with the
     * certificate's, as OpenSSL's {@code X509_check_private_key} does. Otherwise, or when they
     * differ, a probe is signed with the key and verified with the certificate: with the JDK's
     * elliptic-curve code not yet compiled, 20-25 ms of a sidecar's start-up on one core
     * (perf/README.md, Start-up), and again at every certificate rotation.
     */
    static boolean keyMatches(Pem.KeyFile file, X509Certificate cert) throws IOException {
        String probe = probeAlgorithm(file.key());
        return publicPartsMatch(file, cert.getPublicKey()) || signatureMatches(file.key(), probe, cert);
    }

    private static String probeAlgorithm(PrivateKey key) throws IOException {
        return switch (key.getAlgorithm()) {
            case "EC" -> "SHA256withECDSA";
            case "RSA" -> "SHA256withRSA";
            case "Ed25519", "EdDSA" -> "Ed25519";
            default -> throw new IOException("unsupported private key algorithm " + key.getAlgorithm()
                    + " (expected: EC, RSA or Ed25519)");
        };
    }

    /** The cheap check above: true only if the key file names the certificate's public key. */
    static boolean publicPartsMatch(Pem.KeyFile file, PublicKey pub) {
        PrivateKey key = file.key();
        if (!key.getAlgorithm().equals(pub.getAlgorithm())) {
            return false;
        }
        if (key instanceof RSAPrivateCrtKey rsa && pub instanceof RSAPublicKey rsaPub) {
            return rsa.getModulus().equals(rsaPub.getModulus()) && rsa.getPublicExponent().equals(rsaPub.getPublicExponent());
        }
        if (key instanceof ECPrivateKey ec && pub instanceof ECPublicKey ecPub
                && !ec.getParams().getOrder().equals(ecPub.getParams().getOrder())) {
            return false; // another curve
        }
        return file.publicKeyBits() != null && MessageDigest.isEqual(file.publicKeyBits(), Pem.publicKeyBits(pub));
    }

    private static boolean signatureMatches(PrivateKey key, String alg, X509Certificate cert) {
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
