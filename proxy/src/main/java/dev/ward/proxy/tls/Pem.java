package dev.ward.proxy.tls;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StringReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.interfaces.ECPrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.bouncycastle.asn1.ASN1BitString;
import org.bouncycastle.asn1.DERBitString;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.util.io.pem.PemReader;

/** Reads and writes PEM certificates and private keys (PKCS#8, SEC1 EC and PKCS#1 RSA). */
public final class Pem {

    private Pem() {}

    /**
     * Reads every certificate in a PEM file, in order.
     *
     * @throws IOException naming the file when it cannot be read, holds no certificate or holds
     *     something that is not a certificate
     */
    public static List<X509Certificate> readCertificates(Path file) throws IOException {
        return parseCertificates(read(file), file.toString());
    }

    public static List<X509Certificate> parseCertificates(String pem, String source) throws IOException {
        List<X509Certificate> out = new ArrayList<>();
        CertificateFactory x509;
        try {
            x509 = CertificateFactory.getInstance("X.509");
        } catch (CertificateException e) {
            throw new IllegalStateException("this JDK has no X.509 certificate factory", e);
        }
        // The PEM blocks only; the JDK parses each certificate once. (BouncyCastle's PEMParser
        // also parsed each into its own ASN.1 objects first: 14 ms of a sidecar's start-up.)
        try (PemReader r = new PemReader(new StringReader(pem))) {
            PemObject o;
            while ((o = pem(r::readPemObject, source)) != null) {
                if (!o.getType().equals("CERTIFICATE") && !o.getType().equals("X509 CERTIFICATE")) {
                    throw new IOException(source + ": expected only CERTIFICATE blocks, found " + o.getType());
                }
                try {
                    out.add((X509Certificate) x509.generateCertificate(new ByteArrayInputStream(o.getContent())));
                } catch (CertificateException | RuntimeException e) {
                    throw new IOException(source + ": bad certificate: " + e.getMessage(), e);
                }
            }
        }
        if (out.isEmpty()) {
            throw new IOException(source + ": no PEM certificate found");
        }
        return out;
    }

    /** Reads the single private key in a PEM file. */
    public static PrivateKey readPrivateKey(Path file) throws IOException {
        return readKey(file).key();
    }

    /**
     * A private key as its file holds it: the key, and the public key the file stores beside it,
     * if any, as the bits of its {@code subjectPublicKey} (an EC point, an Ed25519 key). OpenSSL,
     * Go's {@code crypto/x509} (so SPIRE and cert-manager) and Ward's own CA write EC keys that
     * way, in PKCS#8 and SEC1 alike; the JDK's own encoding leaves it out (null then).
     */
    public record KeyFile(PrivateKey key, byte[] publicKeyBits) {}

    /** Reads the single private key in a PEM file, with the public key stored beside it ({@link KeyFile}). */
    public static KeyFile readKey(Path file) throws IOException {
        String source = file.toString();
        try (PEMParser p = new PEMParser(new StringReader(read(file)))) {
            Object o = pem(p::readObject, source);
            JcaPEMKeyConverter conv = new JcaPEMKeyConverter();
            if (o instanceof PrivateKeyInfo info) {
                return new KeyFile(conv.getPrivateKey(info), embeddedPublicKey(info, source));
            }
            if (o instanceof PEMKeyPair pair) { // SEC1 (EC PRIVATE KEY) or PKCS#1 (RSA PRIVATE KEY)
                SubjectPublicKeyInfo pub = pair.getPublicKeyInfo();
                return new KeyFile(conv.getPrivateKey(pair.getPrivateKeyInfo()),
                        pub == null ? null : pub.getPublicKeyData().getBytes());
            }
            throw new IOException(source + ": no unencrypted PEM private key found"
                    + (o == null ? "" : " (found " + o.getClass().getSimpleName() + ")"));
        }
    }

    /** id-ecPublicKey (RFC 5480); named here rather than through BouncyCastle's table of every X9.62 OID. */
    private static final String EC_PUBLIC_KEY = "1.2.840.10045.2.1";

    /** The public key a PKCS#8 key carries: an EC key's optional {@code publicKey}, or PKCS#8 v2's. */
    private static byte[] embeddedPublicKey(PrivateKeyInfo info, String source) throws IOException {
        ASN1BitString bits = info.getPublicKeyData(); // OneAsymmetricKey (RFC 5958), e.g. Ed25519
        if (bits == null && EC_PUBLIC_KEY.equals(info.getPrivateKeyAlgorithm().getAlgorithm().getId())) {
            try {
                bits = org.bouncycastle.asn1.sec.ECPrivateKey.getInstance(info.parsePrivateKey()).getPublicKey();
            } catch (IOException | RuntimeException e) {
                throw new IOException(source + ": malformed EC private key: " + e.getMessage(), e);
            }
        }
        return bits == null ? null : bits.getBytes();
    }

    /** The bits of a public key's {@code subjectPublicKey}, to compare with {@link KeyFile#publicKeyBits}. */
    public static byte[] publicKeyBits(PublicKey key) {
        return SubjectPublicKeyInfo.getInstance(key.getEncoded()).getPublicKeyData().getBytes();
    }

    /** A read from a PEM reader. */
    private interface PemRead<T> {
        T read() throws IOException;
    }

    /** The next PEM object {@code read} returns (null at the end), or an error naming {@code source} if it is malformed. */
    private static <T> T pem(PemRead<T> read, String source) throws IOException {
        try {
            return read.read();
        } catch (IOException | RuntimeException e) {
            throw new IOException(source + ": malformed PEM: " + e.getMessage(), e);
        }
    }

    private static String read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException(file + ": no such file");
        }
        return Files.readString(file, StandardCharsets.US_ASCII);
    }

    public static void writeCertificates(Path file, Collection<X509Certificate> certs) throws IOException {
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.US_ASCII); JcaPEMWriter pw = new JcaPEMWriter(w)) {
            for (X509Certificate c : certs) {
                pw.writeObject(c);
            }
        }
    }

    /**
     * Writes {@code key} as PKCS#8. An EC key goes with {@code publicKey} (its own) stored beside
     * it, as OpenSSL writes EC keys, so that whoever loads the pair can check that the key
     * belongs to a certificate by comparing the two public keys rather than by signing
     * ({@code IdentityMaterial}).
     */
    public static void writePrivateKey(Path file, PrivateKey key, PublicKey publicKey) throws IOException {
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.US_ASCII); JcaPEMWriter pw = new JcaPEMWriter(w)) {
            if (key instanceof ECPrivateKey ec) {
                // The JDK's own encoding names the curve; the key inside it gets the public key beside it.
                PrivateKeyInfo jdk = PrivateKeyInfo.getInstance(key.getEncoded());
                org.bouncycastle.asn1.sec.ECPrivateKey withPublic = new org.bouncycastle.asn1.sec.ECPrivateKey(
                        ec.getParams().getOrder().bitLength(), ec.getS(), new DERBitString(publicKeyBits(publicKey)), null);
                pw.writeObject(new PemObject("PRIVATE KEY", new PrivateKeyInfo(jdk.getPrivateKeyAlgorithm(), withPublic).getEncoded()));
            } else {
                pw.writeObject(new JcaPKCS8Generator(key, null));
            }
        }
    }

    /** The URI subject alternative names of {@code cert}, in order. */
    public static List<String> uriSans(X509Certificate cert) {
        List<String> uris = new ArrayList<>();
        try {
            Collection<List<?>> sans = cert.getSubjectAlternativeNames();
            if (sans != null) {
                for (List<?> san : sans) {
                    if (san.size() >= 2 && Integer.valueOf(6).equals(san.get(0))) {
                        uris.add(String.valueOf(san.get(1)));
                    }
                }
            }
        } catch (CertificateParsingException e) {
            return List.of();
        }
        return uris;
    }

}
