package dev.ward.proxy.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ward.proxy.Sidecar;
import dev.ward.proxy.certs.DevCertificateAuthority;
import dev.ward.proxy.testing.Clients;
import dev.ward.proxy.testing.InboundFixture;
import dev.ward.proxy.testing.Sidecars;
import dev.ward.proxy.testing.TestApp;
import dev.ward.proxy.testing.TestPki;
import dev.ward.proxy.tls.JdkTls;
import dev.ward.proxy.tls.Pem;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Who may complete a handshake with the inbound listener, tried with real TLS clients. */
class MutualTlsIT extends InboundFixture {



    private String request(SSLContext ctx) throws IOException {
        return Clients.tlsGet(ctx, b.port("inbound"));
    }

    /** Reads the files as they are (no validation: the point is to present bad certificates). */
    private SSLContext clientFor(Path certs, List<X509Certificate> trust) throws Exception {
        return JdkTls.client(Pem.readCertificates(certs.resolve("tls.crt")), Pem.readPrivateKey(certs.resolve("tls.key")),
                trust, TestPki.TD);
    }

    private long refused(String reason) {
        return b.tls().refusals().count(reason);
    }

    private List<X509Certificate> bundle() throws IOException {
        return Pem.readCertificates(ordersCerts.resolve("ca.crt"));
    }

    @Test
    void allowedPeerWithAValidCertificateIsServed() throws Exception {
        assertThat(request(Clients.mtls(frontendCerts))).isEqualTo("HTTP/1.1 200 OK");
        assertThat(app.requests.get()).isEqualTo(1);
    }

    @Test
    void noClientCertificateIsRefused() throws Exception {
        SSLContext noCert = JdkTls.client(null, null, bundle(), TestPki.TD);
        assertThatThrownBy(() -> request(noCert)).isInstanceOf(IOException.class);
        assertThat(app.requests.get()).isZero();
        assertThat(refused("no_client_certificate")).isEqualTo(1);
    }

    @Test
    void certificateFromAnotherCaIsRefused() throws Exception {
        DevCertificateAuthority other = DevCertificateAuthority.create(TestPki.TD, Duration.ofDays(1));
        Path rogue = pki.write("rogue", other.issue(TestPki.id("frontend"), Duration.ofHours(1)));
        assertThatThrownBy(() -> request(clientFor(rogue, bundle()))).isInstanceOf(IOException.class);
        assertThat(app.requests.get()).isZero();
        assertThat(refused("unknown_ca")).isEqualTo(1);
    }

    @Test
    void expiredCertificateIsRefused() throws Exception {
        Path expired = pki.issueExpired("frontend");
        assertThatThrownBy(() -> request(clientFor(expired, bundle()))).isInstanceOf(IOException.class);
        assertThat(app.requests.get()).isZero();
        assertThat(refused("expired")).isEqualTo(1);
    }

    @Test
    void peerFromAnotherTrustDomainIsRefusedEvenWhenItsCaIsTrusted() throws Exception {
        // A federated bundle: B trusts the other domain's CA, but only serves its own trust domain.
        DevCertificateAuthority otherDomain = DevCertificateAuthority.create("other.test", Duration.ofDays(1));
        TestPki.addToBundle(ordersCerts, otherDomain.certificate());
        b.close();
        b = Sidecars.inbound(ordersCerts, app.port(), "", TestPki.id("frontend"));
        Path foreign = pki.write("foreign", otherDomain.issue(
                dev.ward.authz.identity.SpiffeId.parse("spiffe://other.test/ns/test/sa/frontend"), Duration.ofHours(1)));
        SSLContext ctx = clientFor(foreign, bundle().subList(0, 1));
        assertThatThrownBy(() -> request(ctx)).isInstanceOf(IOException.class);
        assertThat(refused("wrong_trust_domain")).isEqualTo(1);
        // The same federated bundle still admits its own domain.
        assertThat(request(Clients.mtls(frontendCerts))).isEqualTo("HTTP/1.1 200 OK");
    }

    @Test
    void certificateWithoutASpiffeIdIsRefused() throws Exception {
        // A leaf with a DNS name only, signed by the trusted CA.
        var pair = java.security.KeyPairGenerator.getInstance("EC");
        pair.initialize(256);
        var kp = pair.generateKeyPair();
        var caKey = Pem.readPrivateKey(writeCa());
        var b2 = new org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder(pki.ca.certificate(), java.math.BigInteger.TEN,
                new java.util.Date(System.currentTimeMillis() - 60_000), new java.util.Date(System.currentTimeMillis() + 3_600_000),
                new org.bouncycastle.asn1.x500.X500Name("CN=frontend.example"), kp.getPublic())
                .addExtension(org.bouncycastle.asn1.x509.Extension.subjectAlternativeName, false,
                        new org.bouncycastle.asn1.x509.GeneralNames(new org.bouncycastle.asn1.x509.GeneralName(
                                org.bouncycastle.asn1.x509.GeneralName.dNSName, "frontend.example")));
        X509Certificate leaf = new org.bouncycastle.cert.jcajce.JcaX509CertificateConverter().getCertificate(
                b2.build(new org.bouncycastle.operator.jcajce.JcaContentSignerBuilder("SHA256withECDSA").build(caKey)));
        SSLContext ctx = JdkTls.client(List.of(leaf), kp.getPrivate(), bundle(), TestPki.TD);
        assertThatThrownBy(() -> request(ctx)).isInstanceOf(IOException.class);
        assertThat(app.requests.get()).isZero();
        assertThat(refused("no_spiffe_id")).isEqualTo(1);
    }

    private Path writeCa() throws IOException {
        Path d = tmp.resolve("ca");
        pki.ca.writeTo(d);
        return d.resolve("ca.key");
    }

    @Test
    void clientRefusesAServerFromAnotherCa() throws Exception {
        DevCertificateAuthority other = DevCertificateAuthority.create(TestPki.TD, Duration.ofDays(1));
        SSLContext trustsOnlyOther = JdkTls.client(null, null, List.of(other.certificate()), TestPki.TD);
        assertThatThrownBy(() -> Clients.handshake(trustsOnlyOther, b.port("inbound"))).isInstanceOf(IOException.class);
    }

    @Test
    void inboundSpeaksOnlyTls12AndUp() throws Exception {
        SSLContext ctx = Clients.mtls(frontendCerts);
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", b.port("inbound"))) {
            s.setEnabledProtocols(new String[] {"TLSv1.1"});
            assertThatThrownBy(s::startHandshake).isInstanceOf(IOException.class);
        }
        try (SSLSocket s = Clients.handshake(ctx, b.port("inbound"))) {
            assertThat(s.getSession().getProtocol()).isEqualTo("TLSv1.3");
        }
    }

    @Test
    void startsOnlyWithAValidOwnIdentity() throws Exception {
        Path expired = pki.issueExpired("orders");
        assertThatThrownBy(() -> Sidecars.inbound(expired, app.port(), ""))
                .isInstanceOf(Sidecar.StartupException.class).hasMessageContaining("expired");
        Path mismatched = pki.issue("mismatch");
        Files.copy(pki.issue("other").resolve("tls.key"), mismatched.resolve("tls.key"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertThatThrownBy(() -> Sidecars.inbound(mismatched, app.port(), ""))
                .isInstanceOf(Sidecar.StartupException.class).hasMessageContaining("does not match");
        Path garbage = pki.issue("garbage");
        Files.writeString(garbage.resolve("tls.crt"), "not a certificate");
        assertThatThrownBy(() -> Sidecars.inbound(garbage, app.port(), ""))
                .isInstanceOf(Sidecar.StartupException.class).hasMessageContaining("tls.crt");
    }
}
