package dev.ward.proxy.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ward.proxy.testing.Clients;
import dev.ward.proxy.testing.Sidecars;
import dev.ward.proxy.testing.TestApp;
import dev.ward.proxy.testing.TestPki;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The packaged jar as a user runs it: {@code ward proxy} in its own process, and {@code ward demo}. */
class ProcessIT {

    @TempDir
    Path tmp;

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void wardProxyServesThenDrainsOnSigterm() throws Exception {
        TestPki pki = new TestPki(tmp);
        Path orders = pki.issue("orders");
        try (TestApp app = new TestApp()) {
            int inbound = freePort();
            int admin = freePort();
            Path cfg = Files.writeString(tmp.resolve("sidecar.yaml"), Sidecars.identity(orders)
                    + "inbound: { listen: 127.0.0.1:" + inbound + ", app: 127.0.0.1:" + app.port() + ", allow: ["
                    + TestPki.id("frontend") + "] }\n"
                    + "outbound: { listen: 127.0.0.1:" + freePort() + " }\n"
                    + "admin: { listen: 127.0.0.1:" + admin + " }\n"
                    + "limits: { drainTimeout: 10s }\n");
            Path jar = Path.of("target", "ward.jar");
            assertThat(jar).exists();
            Process p = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"), "-jar", jar.toString(),
                    "proxy", "--config", cfg.toString()).redirectErrorStream(true).redirectOutput(tmp.resolve("ward.log").toFile()).start();
            try {
                URI readyz = URI.create("http://127.0.0.1:" + admin + "/readyz");
                boolean ready = false;
                for (int i = 0; i < 200 && !ready; i++) {
                    try {
                        ready = Clients.plain().send(HttpRequest.newBuilder(readyz).build(), HttpResponse.BodyHandlers.ofString())
                                .statusCode() == 200;
                    } catch (java.io.IOException notYet) {
                        Thread.sleep(50);
                    }
                }
                assertThat(ready).as("readyz within 10 s; log: %s", Files.readString(tmp.resolve("ward.log"))).isTrue();
                String config = Clients.plain().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + "/config")).build(),
                        HttpResponse.BodyHandlers.ofString()).body();
                assertThat(config).contains("\"spiffeId\" : \"" + TestPki.id("orders") + "\"", "\"tlsProvider\" : \"boringssl\"")
                        .doesNotContain("PRIVATE KEY");

                var client = Clients.mtlsClient(pki.issue("frontend"), java.net.http.HttpClient.Version.HTTP_2);
                CompletableFuture<HttpResponse<String>> slow = client.sendAsync(HttpRequest.newBuilder(
                        URI.create("https://127.0.0.1:" + inbound + "/slow?ms=1500")).build(), HttpResponse.BodyHandlers.ofString());
                for (int i = 0; i < 100 && app.requests.get() == 0; i++) {
                    Thread.sleep(20);
                }
                p.destroy(); // SIGTERM
                HttpResponse<String> r = slow.get(10, TimeUnit.SECONDS);
                assertThat(r.statusCode()).isEqualTo(200);
                assertThat(p.waitFor(15, TimeUnit.SECONDS)).isTrue();
                assertThat(Files.readString(tmp.resolve("ward.log"))).contains("draining").doesNotContain("cut off");
            } finally {
                p.destroyForcibly();
            }
        }
    }

    @Test
    void demoRunsAndExplainsWhatHappened() {
        PrintStream out = System.out;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        int exit;
        try {
            exit = dev.ward.proxy.cli.WardCli.run("demo");
        } finally {
            System.setOut(out);
        }
        String text = o.toString(StandardCharsets.UTF_8);
        assertThat(exit).as(text).isZero();
        assertThat(text).contains("Allowed.", "403 {\"error\":\"identity_not_allowed\"", "The app never saw the request",
                "refused during the TLS handshake", "Demo complete");
    }
}
