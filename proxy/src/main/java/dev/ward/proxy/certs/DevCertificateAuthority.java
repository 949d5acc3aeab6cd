package dev.ward.proxy.certs;

import dev.ward.authz.identity.SpiffeId;
import dev.ward.proxy.tls.Pem;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A development certificate authority for one SPIFFE trust domain: EC P-256 keys, a self-signed
 * CA whose only name constraint is its trust-domain URI, and leaves whose only identity is one
 * {@code spiffe://} URI SAN. For demos and tests; production identities come from SPIRE or
 * cert-manager and are only read by Ward.
 *
 * <p>On disk a CA is {@code ca.crt} + {@code ca.key}; a leaf is {@code tls.crt} (leaf only),
 * {@code tls.key} (PKCS#8, mode 0600) and {@code ca.crt} (the bundle to trust).
 */
public final class DevCertificateAuthority {

    public static final String CA_CERT = "ca.crt";
    public static final String CA_KEY = "ca.key";
    public static final String LEAF_CERT = "tls.crt";
    public static final String LEAF_KEY = "tls.key";

    private static final SecureRandom RANDOM = new SecureRandom();

    private final String trustDomain;
    private final X509Certificate certificate;
    private final PrivateKey key;

    private DevCertificateAuthority(String trustDomain, X509Certificate certificate, PrivateKey key) {
        this.trustDomain = trustDomain;
        this.certificate = certificate;
        this.key = key;
    }

    /** Makes a new CA for {@code trustDomain}, valid from now for {@code ttl}. */
    public static DevCertificateAuthority create(String trustDomain, Duration ttl) {
        SpiffeId.requireTrustDomain(trustDomain);
        return create(trustDomain, Instant.now().minusSeconds(60), Instant.now().plus(ttl));
    }

    static DevCertificateAuthority create(String trustDomain, Instant notBefore, Instant notAfter) {
        try {
            KeyPair pair = newKeyPair();
            X500Name name = new X500Name("O=Ward dev CA,CN=" + trustDomain);
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, serial(),
                    Date.from(notBefore), Date.from(notAfter), name, pair.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
                    .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(pair.getPublic()))
                    .addExtension(Extension.subjectAlternativeName, false,
                            new GeneralNames(new GeneralName(GeneralName.uniformResourceIdentifier, "spiffe://" + trustDomain)));
            return new DevCertificateAuthority(trustDomain, sign(b, pair.getPrivate()), pair.getPrivate());
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot create CA: " + e.getMessage(), e);
        }
    }

    /** Loads a CA written by {@link #writeTo(Path)}. */
    public static DevCertificateAuthority load(Path dir) throws IOException {
        List<X509Certificate> certs = Pem.readCertificates(dir.resolve(CA_CERT));
        PrivateKey key = Pem.readPrivateKey(dir.resolve(CA_KEY));
        X509Certificate ca = certs.get(0);
        String td = ca.getSubjectX500Principal().getName().replaceAll(".*CN=([^,]+).*", "$1");
        try {
            td = SpiffeId.parse(Pem.uriSans(ca).get(0)).trustDomain();
        } catch (RuntimeException ignored) {
            // Older CA without a URI SAN: the CN carries the trust domain.
        }
        return new DevCertificateAuthority(td, ca, key);
    }

    /** Issues a leaf for {@code id}, valid from now for {@code ttl}. */
    public Leaf issue(SpiffeId id, Duration ttl) {
        return issue(id, Instant.now().minusSeconds(60), Instant.now().plus(ttl));
    }

    /**
     * Issues a leaf for {@code id} that also carries DNS names, valid from now for {@code ttl}: for peers
     * that check a host name rather than a SPIFFE id (nginx, HAProxy, curl). Ward itself ignores them.
     *
     * @throws IllegalArgumentException if a name is not a DNS host name
     */
    public Leaf issue(SpiffeId id, Duration ttl, List<String> dnsNames) {
        return issue(id, Instant.now().minusSeconds(60), Instant.now().plus(ttl), dnsNames);
    }

    /**
     * Issues a leaf with explicit validity. The id must be in this CA's trust domain.
     *
     * @throws IllegalArgumentException if it is not
     */
    public Leaf issue(SpiffeId id, Instant notBefore, Instant notAfter) {
        return issue(id, notBefore, notAfter, List.of());
    }

    private static final Pattern DNS_NAME =
            Pattern.compile("(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*");

    private Leaf issue(SpiffeId id, Instant notBefore, Instant notAfter, List<String> dnsNames) {
        Objects.requireNonNull(id, "id");
        List<GeneralName> names = new ArrayList<>();
        names.add(new GeneralName(GeneralName.uniformResourceIdentifier, id.toString()));
        for (String dns : dnsNames) {
            if (!DNS_NAME.matcher(dns).matches()) {
                throw new IllegalArgumentException("dns name: " + dns
                        + " (expected: a lower-case host name such as orders.shop.svc)");
            }
            names.add(new GeneralName(GeneralName.dNSName, dns));
        }
        if (!id.trustDomain().equals(trustDomain)) {
            throw new IllegalArgumentException("id: " + id + " (expected: an id in this CA's trust domain "
                    + trustDomain + ")");
        }
        try {
            KeyPair pair = newKeyPair();
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(certificate, serial(),
                    Date.from(notBefore), Date.from(notAfter), new X500Name("O=Ward workload"), pair.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                    .addExtension(Extension.keyUsage, true,
                            new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement))
                    .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
                            new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}))
                    .addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(certificate))
                    .addExtension(Extension.subjectAlternativeName, true,
                            new GeneralNames(names.toArray(GeneralName[]::new)));
            return new Leaf(id, sign(b, key), pair.getPrivate(), certificate);
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot issue " + id + ": " + e.getMessage(), e);
        }
    }

    /** Writes {@code ca.crt} and {@code ca.key} (mode 0600) into {@code dir}. */
    public void writeTo(Path dir) throws IOException {
        Files.createDirectories(dir);
        Pem.writeCertificates(dir.resolve(CA_CERT), List.of(certificate));
        writeKey(dir.resolve(CA_KEY), key, certificate.getPublicKey());
    }

    public String trustDomain() {
        return trustDomain;
    }

    public X509Certificate certificate() {
        return certificate;
    }

    /** An issued leaf: certificate, its key, and the CA certificate that signed it. */
    public record Leaf(SpiffeId id, X509Certificate certificate, PrivateKey key, X509Certificate ca) {
        /** Writes {@code tls.crt}, {@code tls.key} (0600) and {@code ca.crt} into {@code dir}. */
        public void writeTo(Path dir) throws IOException {
            Files.createDirectories(dir);
            writeKey(dir.resolve(LEAF_KEY), key, certificate.getPublicKey());
            Pem.writeCertificates(dir.resolve(LEAF_CERT), List.of(certificate));
            Pem.writeCertificates(dir.resolve(CA_CERT), List.of(ca));
        }
    }

    static void writeKey(Path file, PrivateKey key, PublicKey publicKey) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp);
        try {
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException ignored) {
            // Not a POSIX file system.
        }
        Pem.writePrivateKey(tmp, key, publicKey);
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private static KeyPair newKeyPair() throws GeneralSecurityException {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
        return g.generateKeyPair();
    }

    private static BigInteger serial() {
        return new BigInteger(127, RANDOM).add(BigInteger.ONE);
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey signer)
            throws GeneralSecurityException {
        try {
            ContentSigner s = new JcaContentSignerBuilder("SHA256withECDSA").build(signer);
            return new JcaX509CertificateConverter().getCertificate(b.build(s));
        } catch (OperatorCreationException e) {
            throw new GeneralSecurityException(e);
        }
    }
}
