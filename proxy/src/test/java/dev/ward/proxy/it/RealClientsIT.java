package dev.ward.proxy.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ward.proxy.Sidecar;
import dev.ward.proxy.testing.InboundFixture;
import dev.ward.proxy.testing.Sidecars;
import dev.ward.proxy.testing.TestApp;
import dev.ward.proxy.testing.TestPki;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sidecar seen by the real {@code curl} and {@code openssl s_client} binaries (installed by
 * .ci/run): what a person trying Ward by hand would run.
 */
class RealClientsIT extends InboundFixture {



    record Result(int exit, String out) {}

    static Result run(String stdin, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        return new Result(p.exitValue(), out);
    }

    private List<String> curl(Path certs, String... args) {
        List<String> c = new ArrayList<>(List.of("curl", "-sS", "--max-time", "10", "-k"));
        if (certs != null) {
            c.addAll(List.of("--cert", certs.resolve("tls.crt").toString(), "--key", certs.resolve("tls.key").toString()));
        }
        c.addAll(List.of(args));
        return c;
    }

    @Test
    void curlWithAClientCertificateIsServedOverHttp2AndHttp11() throws Exception {
        String url = "https://127.0.0.1:" + b.port("inbound") + "/echo";
        Result h2 = run("", curl(frontendCerts, "--http2", "-w", "\n%{http_version} %{http_code}", url).toArray(String[]::new));
        assertThat(h2.out()).isEqualTo("hello " + TestPki.id("frontend") + " GET /echo\n2 200");
        Result h1 = run("", curl(frontendCerts, "--http1.1", "-w", "\n%{http_version} %{http_code}", url).toArray(String[]::new));
        assertThat(h1.out()).isEqualTo("hello " + TestPki.id("frontend") + " GET /echo\n1.1 200");
    }

    @Test
    void curlWithoutACertificateIsRefused() throws Exception {
        Result r = run("", curl(null, "https://127.0.0.1:" + b.port("inbound") + "/echo").toArray(String[]::new));
        assertThat(r.exit()).isNotZero();
        assertThat(app.requests.get()).isZero();
    }

    @Test
    void curlThroughTheOutboundProxy() throws Exception {
        Sidecar a = Sidecars.outbound(frontendCerts, b.port("inbound"), TestPki.id("orders"), "h2");
        try {
            Result r = run("", "curl", "-sS", "--max-time", "10", "-x", "http://127.0.0.1:" + a.port("outbound"),
                    "-w", "\n%{http_code}", "http://orders/echo?q=1");
            assertThat(r.out()).isEqualTo("hello " + TestPki.id("frontend") + " GET /echo?q=1\n200");
        } finally {
            a.close();
        }
    }

    @Test
    void curlSpeaksH2cWithPriorKnowledgeToTheOutboundListener() throws Exception {
        Sidecar a = Sidecars.outbound(frontendCerts, b.port("inbound"), TestPki.id("orders"), "h2");
        try {
            String url = "http://orders/echo?q=2";
            // One request per curl: curl 7.88 fails to reuse a prior-knowledge connection (against nginx too).
            Result h2c = run("", "curl", "-sS", "--max-time", "10", "--http2-prior-knowledge",
                    "--connect-to", "orders:80:127.0.0.1:" + a.port("outbound"),
                    "-w", "\n%{http_version} %{http_code}", url);
            // Routed by :authority (the Host of HTTP/1.1) to the upstream.
            assertThat(h2c.out()).isEqualTo("hello " + TestPki.id("frontend") + " GET /echo?q=2\n2 200");
            Result post = run("a body over h2c", "curl", "-sS", "--max-time", "10", "--http2-prior-knowledge",
                    "--connect-to", "orders:80:127.0.0.1:" + a.port("outbound"), "--data-binary", "@-",
                    "-w", "\n%{http_version} %{http_code}", "http://orders/echo");
            assertThat(post.out()).endsWith("\n2 200").contains("POST /echo");
            // The same listener still speaks HTTP/1.1.
            Result h1 = run("", "curl", "-sS", "--max-time", "10", "--http1.1",
                    "--connect-to", "orders:80:127.0.0.1:" + a.port("outbound"), "-w", "\n%{http_version} %{http_code}", url);
            assertThat(h1.out()).endsWith("\n1.1 200");
        } finally {
            a.close();
        }
    }

    @Test
    void opensslSeesTls13AndAlpnAndIsRefusedWithoutACertificate() throws Exception {
        String connect = "127.0.0.1:" + b.port("inbound");
        Result withCert = run("GET /echo HTTP/1.1\r\nHost: orders\r\nConnection: close\r\n\r\n", "openssl", "s_client",
                "-connect", connect, "-alpn", "h2,http/1.1", "-cert", frontendCerts.resolve("tls.crt").toString(),
                "-key", frontendCerts.resolve("tls.key").toString(), "-CAfile", frontendCerts.resolve("ca.crt").toString(),
                "-verify_return_error", "-ign_eof");
        assertThat(withCert.out()).contains("New, TLSv1.3, Cipher is TLS_", "ALPN protocol: h2", "Verify return code: 0 (ok)");

        Result noCert = run("GET /echo HTTP/1.1\r\nHost: orders\r\n\r\n", "openssl", "s_client", "-connect", connect,
                "-alpn", "http/1.1", "-CAfile", frontendCerts.resolve("ca.crt").toString(), "-ign_eof");
        assertThat(noCert.out()).containsIgnoringCase("alert certificate required");
        assertThat(app.requests.get()).isZero();

        Result tls12 = run("", "openssl", "s_client", "-connect", connect, "-tls1_2", "-cert", frontendCerts.resolve("tls.crt").toString(),
                "-key", frontendCerts.resolve("tls.key").toString(), "-CAfile", frontendCerts.resolve("ca.crt").toString());
        assertThat(tls12.out()).contains("New, TLSv1.2, Cipher is ECDHE-ECDSA-").containsPattern("Cipher +: ECDHE-ECDSA-(AES\\d+-GCM|CHACHA20)");
        Result tls11 = run("", "openssl", "s_client", "-connect", connect, "-tls1_1");
        assertThat(tls11.exit()).isNotZero();
    }
}
