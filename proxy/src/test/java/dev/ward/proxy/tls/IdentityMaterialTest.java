package dev.ward.proxy.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ward.authz.identity.SpiffeId;
import dev.ward.proxy.certs.DevCertificateAuthority;
import java.io.IOException;
import java.io.Writer;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.security.spec.ECPrivateKeySpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.util.io.pem.PemReader;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Loading this sidecar's identity: that its key belongs to its certificate is checked by comparing
 * public keys where the key file says which one it belongs to, by signing otherwise, and a key
 * that belongs to another certificate is refused either way.
 */
class IdentityMaterialTest {

    @TempDir
    Path dir;

    private DevCertificateAuthority ca;
    private Path cert;
    private Path key;
    private Path bundle;

    @BeforeEach
    void issue() throws IOException {
        ca = DevCertificateAuthority.create("test.ward", Duration.ofHours(1));
        ca.issue(SpiffeId.parse("spiffe://test.ward/ns/a/sa/orders"), Duration.ofHours(1)).writeTo(dir);
        cert = dir.resolve(DevCertificateAuthority.LEAF_CERT);
        key = dir.resolve(DevCertificateAuthority.LEAF_KEY);
        bundle = dir.resolve(DevCertificateAuthority.CA_CERT);
    }

    @Test
    void keysWardWritesCarryTheirPublicKeySoTheCheckNeedsNoSignature() throws IOException {
        // PKCS#8 with the EC public key inside, as OpenSSL writes it (the JDK's own encoding has none).
        PrivateKeyInfo info;
        try (PemReader r = new PemReader(Files.newBufferedReader(key, StandardCharsets.US_ASCII))) {
            info = PrivateKeyInfo.getInstance(r.readPemObject().getContent());
        }
        assertThat(org.bouncycastle.asn1.sec.ECPrivateKey.getInstance(info.parsePrivateKey()).getPublicKey()).isNotNull();

        Pem.KeyFile file = Pem.readKey(key);
        X509Certificate leaf = Pem.readCertificates(cert).get(0);
        assertThat(file.publicKeyBits()).isEqualTo(Pem.publicKeyBits(leaf.getPublicKey()));
        assertThat(IdentityMaterial.publicPartsMatch(file, leaf.getPublicKey())).isTrue();
        assertThat(IdentityMaterial.load(cert, key, bundle, Clock.systemUTC()).id())
                .isEqualTo(SpiffeId.parse("spiffe://test.ward/ns/a/sa/orders"));
    }

    @Test
    void aKeyFileThatNamesTheCertificatesPublicKeyIsTakenAtItsWordWithoutSigning() throws Exception {
        // As OpenSSL's X509_check_private_key: the public key the file stores decides. A file doctored
        // to pair another private key with this certificate's public key passes here (and fails
        // closed at its first handshake, when peers reject its signatures); what this pins is that
        // the check made at load is the cheap one whenever the file names a public key.
        X509Certificate leaf = Pem.readCertificates(cert).get(0);
        Path other = dir.resolve("other");
        ca.issue(SpiffeId.parse("spiffe://test.ward/ns/a/sa/other"), Duration.ofHours(1)).writeTo(other);
        PrivateKey otherKey = Pem.readPrivateKey(other.resolve(DevCertificateAuthority.LEAF_KEY));
        assertThat(IdentityMaterial.keyMatches(new Pem.KeyFile(otherKey, Pem.publicKeyBits(leaf.getPublicKey())), leaf)).isTrue();
        assertThat(IdentityMaterial.keyMatches(new Pem.KeyFile(otherKey, null), leaf)).as("without it: signed, and refused").isFalse();
    }

    @Test
    void aKeyWithoutItsPublicKeyIsCheckedBySigning() throws Exception {
        PrivateKey k = Pem.readPrivateKey(key);
        writePem(key, "PRIVATE KEY", jdkEncoding(k)); // the JDK's PKCS#8: no public key
        Pem.KeyFile file = Pem.readKey(key);
        assertThat(file.publicKeyBits()).isNull();
        X509Certificate leaf = Pem.readCertificates(cert).get(0);
        assertThat(IdentityMaterial.publicPartsMatch(file, leaf.getPublicKey())).isFalse();
        assertThat(scalar(IdentityMaterial.load(cert, key, bundle, Clock.systemUTC()).key())).isEqualTo(scalar(k));
    }

    @Test
    void aSec1KeyWrittenByOpenSslIsReadWithItsPublicKey() throws Exception {
        PrivateKey k = Pem.readPrivateKey(key);
        Path sec1 = dir.resolve("sec1.key");
        Process p = new ProcessBuilder("openssl", "ec", "-in", key.toString(), "-out", sec1.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(out).isZero();
        assertThat(Files.readString(sec1)).startsWith("-----BEGIN EC PRIVATE KEY-----"); // OpenSSL's traditional format
        Pem.KeyFile file = Pem.readKey(sec1);
        assertThat(scalar(file.key())).isEqualTo(scalar(k));
        X509Certificate leaf = Pem.readCertificates(cert).get(0);
        assertThat(IdentityMaterial.publicPartsMatch(file, leaf.getPublicKey())).isTrue();
        IdentityMaterial.load(cert, sec1, bundle, Clock.systemUTC());
    }

    @Test
    void aKeyOfAnotherCertificateIsRefusedWithOrWithoutItsPublicKey() throws Exception {
        Path other = dir.resolve("other");
        ca.issue(SpiffeId.parse("spiffe://test.ward/ns/a/sa/other"), Duration.ofHours(1)).writeTo(other);
        Path otherKey = other.resolve(DevCertificateAuthority.LEAF_KEY);
        X509Certificate leaf = Pem.readCertificates(cert).get(0);
        assertThat(IdentityMaterial.publicPartsMatch(Pem.readKey(otherKey), leaf.getPublicKey())).isFalse();
        assertThatThrownBy(() -> IdentityMaterial.load(cert, otherKey, bundle, Clock.systemUTC()))
                .isInstanceOf(IOException.class).hasMessageContaining("private key does not match the certificate");

        writePem(otherKey, "PRIVATE KEY", jdkEncoding(Pem.readPrivateKey(otherKey)));
        assertThat(Pem.readKey(otherKey).publicKeyBits()).isNull();
        assertThatThrownBy(() -> IdentityMaterial.load(cert, otherKey, bundle, Clock.systemUTC()))
                .isInstanceOf(IOException.class).hasMessageContaining("private key does not match the certificate");
    }

    @Test
    void aBadCertificateFileIsRefusedWithWhatIsWrongInIt() throws Exception {
        String keyPem = Files.readString(key);
        String certPem = Files.readString(cert);
        String[][] cases = {
            {keyPem, "expected only CERTIFICATE blocks, found PRIVATE KEY"},
            {certPem + keyPem, "expected only CERTIFICATE blocks, found PRIVATE KEY"},
            {"", "no PEM certificate found"},
            {"not a certificate\n", "no PEM certificate found"},
            {"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "bad certificate"},
            {certPem.substring(0, certPem.indexOf("-----END")), "malformed PEM"},
        };
        for (String[] c : cases) {
            Files.writeString(cert, c[0]);
            assertThatThrownBy(() -> IdentityMaterial.load(cert, key, bundle, Clock.systemUTC())).as(c[1])
                    .isInstanceOf(IOException.class).hasMessageStartingWith(cert + ": ").hasMessageContaining(c[1]);
        }
        // A chain: every certificate, in order.
        Files.writeString(cert, certPem + Files.readString(bundle));
        assertThat(Pem.readCertificates(cert)).extracting(X509Certificate::getSubjectX500Principal)
                .containsExactly(Pem.parseCertificates(certPem, "leaf").get(0).getSubjectX500Principal(),
                        ca.certificate().getSubjectX500Principal());
    }

    @Test
    void anRsaKeyIsMatchedByItsModulusAndExponent() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(2048);
        KeyPair mine = g.generateKeyPair();
        KeyPair theirs = g.generateKeyPair();
        X509Certificate self = selfSigned(mine);
        assertThat(IdentityMaterial.publicPartsMatch(new Pem.KeyFile(mine.getPrivate(), null), self.getPublicKey())).isTrue();
        assertThat(IdentityMaterial.publicPartsMatch(new Pem.KeyFile(theirs.getPrivate(), null), self.getPublicKey())).isFalse();
        // An EC key is never taken for an RSA certificate's, whatever bits it claims.
        X509Certificate leaf = Pem.readCertificates(cert).get(0);
        assertThat(IdentityMaterial.publicPartsMatch(
                new Pem.KeyFile(Pem.readPrivateKey(key), Pem.publicKeyBits(self.getPublicKey())), self.getPublicKey())).isFalse();
        assertThat(IdentityMaterial.publicPartsMatch(new Pem.KeyFile(mine.getPrivate(), null), leaf.getPublicKey())).isFalse();
    }

    private static BigInteger scalar(PrivateKey k) {
        return ((java.security.interfaces.ECPrivateKey) k).getS();
    }

    /** The key as the JDK encodes a key it made: PKCS#8 without the public key. */
    private static byte[] jdkEncoding(PrivateKey k) throws Exception {
        java.security.interfaces.ECPrivateKey ec = (java.security.interfaces.ECPrivateKey) k;
        return KeyFactory.getInstance("EC").generatePrivate(new ECPrivateKeySpec(ec.getS(), ec.getParams())).getEncoded();
    }

    private static void writePem(Path file, String type, byte[] der) throws IOException {
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.US_ASCII); JcaPEMWriter pw = new JcaPEMWriter(w)) {
            pw.writeObject(new PemObject(type, der));
        }
    }

    private static X509Certificate selfSigned(KeyPair kp) throws Exception {
        X500Name name = new X500Name("CN=rsa");
        Instant now = Instant.now();
        return new JcaX509CertificateConverter().getCertificate(new JcaX509v3CertificateBuilder(name, BigInteger.ONE,
                Date.from(now.minusSeconds(60)), Date.from(now.plusSeconds(3600)), name, kp.getPublic())
                .build(new JcaContentSignerBuilder("SHA256withRSA").build(kp.getPrivate())));
    }
}
