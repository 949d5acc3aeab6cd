package dev.ward.proxy.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.ward.authz.jwt.JwksSource;
import dev.ward.proxy.Sidecar;
import dev.ward.proxy.testing.Await;
import dev.ward.proxy.testing.Clients;
import dev.ward.proxy.testing.Sidecars;
import dev.ward.proxy.testing.TestApp;
import dev.ward.proxy.testing.TestPki;
import dev.ward.proxy.tls.Pem;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.Date;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Keys fetched over real HTTPS from a loopback key server with a private CA. */
class JwksUrlIT {

    @TempDir
    Path tmp;

    HttpsServer server;
    final AtomicReference<String> body = new AtomicReference<>();
    final AtomicInteger status = new AtomicInteger(200);
    final AtomicInteger fetches = new AtomicInteger();
    Path caPem;
    URI url;
    RSAKey k1;

    @BeforeEach
    void startKeyServer() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(256);
        KeyPair caKeys = g.generateKeyPair();
        X500Name caName = new X500Name("CN=test key-server CA");
        Date from = new Date(System.currentTimeMillis() - 60_000);
        Date to = new Date(System.currentTimeMillis() + 3_600_000);
        X509Certificate ca = new JcaX509CertificateConverter().getCertificate(new JcaX509v3CertificateBuilder(caName, BigInteger.ONE,
                from, to, caName, caKeys.getPublic()).addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
                .build(new JcaContentSignerBuilder("SHA256withECDSA").build(caKeys.getPrivate())));
        KeyPair serverKeys = g.generateKeyPair();
        X509Certificate cert = new JcaX509CertificateConverter().getCertificate(new JcaX509v3CertificateBuilder(caName, BigInteger.TWO,
                from, to, new X500Name("CN=127.0.0.1"), serverKeys.getPublic())
                .addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
                    new GeneralName(GeneralName.iPAddress, "127.0.0.1"), new GeneralName(GeneralName.dNSName, "localhost")}))
                .build(new JcaContentSignerBuilder("SHA256withECDSA").build(caKeys.getPrivate())));
        caPem = tmp.resolve("keyserver-ca.pem");
        Pem.writeCertificates(caPem, List.of(ca));

        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("s", serverKeys.getPrivate(), "pw".toCharArray(), new X509Certificate[] {cert, ca});
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "pw".toCharArray());
        SSLContext ssl = SSLContext.getInstance("TLS");
        ssl.init(kmf.getKeyManagers(), null, null);
        server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        server.setHttpsConfigurator(new HttpsConfigurator(ssl));
        server.createContext("/jwks", ex -> {
            fetches.incrementAndGet();
            byte[] b = body.get().getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(status.get(), b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        server.start();
        url = URI.create("https://127.0.0.1:" + server.getAddress().getPort() + "/jwks");
        k1 = new RSAKeyGenerator(2048).keyID("k1").generate();
        body.set(new JWKSet(k1).toPublicJWKSet().toString());
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    @Test
    void fetchesRefreshesOnAnUnknownKeyAndKeepsTheLastGoodKeys() throws Exception {
        JwksSource.FromUrl src = new JwksSource.FromUrl(url, JwksSource.FromUrl.trusting(caPem), Clock.systemUTC(),
                Duration.ofHours(1), Duration.ZERO);
        try {
            Await.until(() -> src.health().everLoaded());
            assertThat(src.health().keyIds()).containsExactly("k1");
            RSAKey k2 = new RSAKeyGenerator(2048).keyID("k2").generate();
            body.set(new JWKSet(List.of(k1, k2)).toPublicJWKSet().toString());
            src.unknownKey("k2");
            Await.until(() -> src.current().getKeyByKeyId("k2") != null);
            status.set(500);
            src.unknownKey("k3");
            Await.until(() -> src.health().lastError() != null);
            assertThat(src.health().lastError()).contains("HTTP 500");
            assertThat(src.health().keyIds()).containsExactly("k1", "k2"); // kept
        } finally {
            src.close();
        }
    }

    @Test
    void refusesAKeyServerItDoesNotTrust() throws Exception {
        JwksSource.FromUrl src = new JwksSource.FromUrl(url, null, Clock.systemUTC(), Duration.ofHours(1), Duration.ZERO);
        try {
            Await.until(() -> src.health().lastError() != null);
            assertThat(src.health().everLoaded()).isFalse();
            assertThat(src.current().getKeys()).isEmpty();
        } finally {
            src.close();
        }
    }

    @Test
    void aSidecarVerifiesTokensWithFetchedKeysAndIsNotReadyWithoutThem() throws Exception {
        TestPki pki = new TestPki(tmp);
        try (TestApp app = new TestApp()) {
            Path policy = Files.writeString(tmp.resolve("policy.yaml"), """
                    service: orders
                    tokens:
                      - { issuer: https://auth.example, jwks: { url: "%s", ca: %s }, audiences: [orders] }
                    rules:
                      - { name: pay, from: ["%s"], methods: [GET], paths: [/pay], token: required }
                    """.formatted(url, caPem, TestPki.id("frontend")));
            Sidecar b = Sidecars.start(Sidecars.identity(pki.issue("orders")) + "inbound: { listen: 127.0.0.1:0, app: 127.0.0.1:"
                    + app.port() + " }\noutbound: { listen: 127.0.0.1:0 }\npolicy: { file: " + policy + " }\n");
            try {
                URI readyz = URI.create("http://127.0.0.1:" + b.port("admin") + "/readyz");
                Await.until(() -> status(readyz) == 200);
                HttpResponse<String> r = Clients.mtlsClient(pki.issue("frontend"), HttpClient.Version.HTTP_2).send(
                        HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + b.port("inbound") + "/pay"))
                                .header("Authorization", "Bearer " + dev.ward.proxy.testing.Tokens.jwt(k1, "orders")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(r.statusCode()).isEqualTo(200);
                assertThat(fetches.get()).isEqualTo(1);
            } finally {
                b.close();
            }

            server.stop(0); // the issuer is down from the start
            Sidecar c = Sidecars.start(Sidecars.identity(pki.issue("orders2")) + "inbound: { listen: 127.0.0.1:0, app: 127.0.0.1:"
                    + app.port() + " }\noutbound: { listen: 127.0.0.1:0 }\npolicy: { file: " + policy + " }\n");
            try {
                URI readyz = URI.create("http://127.0.0.1:" + c.port("admin") + "/readyz");
                Thread.sleep(300);
                HttpResponse<String> nr = Clients.plain().send(HttpRequest.newBuilder(readyz).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(nr.statusCode()).isEqualTo(503);
                assertThat(nr.body()).contains("keys of token issuer https://auth.example were never loaded");
            } finally {
                c.close();
            }
            Sidecar d = Sidecars.start(Sidecars.identity(pki.issue("orders3")) + "inbound: { listen: 127.0.0.1:0, app: 127.0.0.1:"
                    + app.port() + " }\noutbound: { listen: 127.0.0.1:0 }\npolicy: { file: " + policy + ", readyWithoutKeys: true }\n");
            try {
                assertThat(status(URI.create("http://127.0.0.1:" + d.port("admin") + "/readyz"))).isEqualTo(200);
            } finally {
                d.close();
            }
        }
    }

    private static int status(URI u) {
        try {
            return Clients.plain().send(HttpRequest.newBuilder(u).build(), HttpResponse.BodyHandlers.ofString()).statusCode();
        } catch (Exception e) {
            return -1;
        }
    }
}
