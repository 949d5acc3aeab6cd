package dev.ward.proxy.tls;

import java.io.IOException;
import java.io.StringReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;

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
        JcaX509CertificateConverter conv = new JcaX509CertificateConverter();
        try (PEMParser p = new PEMParser(new StringReader(pem))) {
            Object o;
            while ((o = readObject(p, source)) != null) {
                if (!(o instanceof X509CertificateHolder h)) {
                    throw new IOException(source + ": expected only CERTIFICATE blocks, found " + o.getClass().getSimpleName());
                }
                try {
                    out.add(conv.getCertificate(h));
                } catch (CertificateException e) {
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
        String source = file.toString();
        try (PEMParser p = new PEMParser(new StringReader(read(file)))) {
            Object o = readObject(p, source);
            JcaPEMKeyConverter conv = new JcaPEMKeyConverter();
            if (o instanceof PrivateKeyInfo info) {
                return conv.getPrivateKey(info);
            }
            if (o instanceof PEMKeyPair pair) {
                return conv.getKeyPair(pair).getPrivate();
            }
            throw new IOException(source + ": no unencrypted PEM private key found"
                    + (o == null ? "" : " (found " + o.getClass().getSimpleName() + ")"));
        }
    }

    private static Object readObject(PEMParser p, String source) throws IOException {
        try {
            return p.readObject();
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

    public static void writePrivateKey(Path file, PrivateKey key) throws IOException {
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.US_ASCII); JcaPEMWriter pw = new JcaPEMWriter(w)) {
            pw.writeObject(new JcaPKCS8Generator(key, null));
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
