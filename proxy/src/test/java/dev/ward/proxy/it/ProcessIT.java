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

    /** The packaged jar, as {@code mvn package} leaves it. */
    private static final Path JAR = Path.of("target", "ward.jar");

    @TempDir
    Path tmp;

    /**
     * {@code n} distinct free ports. Their sockets stay open until all are picked: one at a time,
     * the kernel may hand out a port it just gave back, and two listeners of one config collided.
     */
    static int[] freePorts(int n) throws Exception {
        ServerSocket[] sockets = new ServerSocket[n];
        try {
            int[] ports = new int[n];
            for (int i = 0; i < n; i++) {
                sockets[i] = new ServerSocket(0);
                ports[i] = sockets[i].getLocalPort();
            }
            return ports;
        } finally {
            for (ServerSocket s : sockets) {
                if (s != null) {
                    s.close();
                }
            }
        }
    }

    @Test
    void wardProxyServesThenDrainsOnSigterm() throws Exception {
        TestPki pki = new TestPki(tmp);
        Path orders = pki.issue("orders");
        try (TestApp app = new TestApp()) {
            int[] ports = freePorts(3);
            int inbound = ports[0];
            int admin = ports[1];
            Path cfg = Files.writeString(tmp.resolve("sidecar.yaml"), Sidecars.identity(orders)
                    + "inbound: { listen: 127.0.0.1:" + inbound + ", app: 127.0.0.1:" + app.port() + ", allow: ["
                    + TestPki.id("frontend") + "] }\n"
                    + "outbound: { listen: 127.0.0.1:" + ports[2] + " }\n"
                    + "admin: { listen: 127.0.0.1:" + admin + " }\n"
                    + "limits: { drainTimeout: 10s }\n");
            Process p = startWard(cfg, java.util.Map.of());
            try {
                awaitReady(admin);
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

    /**
     * BoringSSL and epoll load from {@code -Djava.library.path} when the jar's native libraries are
     * unpacked there (as an image should ship them), so Netty writes nothing to its work directory.
     * When they can be loaded from neither (here: the work directory cannot be made), the sidecar
     * stops at once and says how to fix it.
     */
    @Test
    void nativeLibrariesFromTheLibraryPathOrAClearErrorWhenNeitherLoads() throws Exception {
        TestPki pki = new TestPki(tmp);
        Path orders = pki.issue("orders");
        Path notADirectory = Files.writeString(tmp.resolve("not-a-directory"), "x");
        String workdir = "-Dio.netty.native.workdir=" + notADirectory.resolve("native");
        int[] ports = freePorts(3);
        Path cfg = Files.writeString(tmp.resolve("sidecar.yaml"), Sidecars.identity(orders)
                + "inbound: { listen: 127.0.0.1:" + ports[0] + ", app: 127.0.0.1:9, allow: [" + TestPki.id("frontend") + "] }\n"
                + "outbound: { listen: 127.0.0.1:" + ports[1] + " }\n"
                + "admin: { listen: 127.0.0.1:" + ports[2] + " }\n");

        Process failed = startWard(cfg, java.util.Map.of(), workdir);
        assertThat(failed.waitFor(30, TimeUnit.SECONDS)).isTrue();
        String log = Files.readString(tmp.resolve("ward.log"));
        assertThat(failed.exitValue()).as(log).isEqualTo(2);
        assertThat(log).contains("ward: cannot start: tls.provider: openssl, but BoringSSL (netty-tcnative) could not be loaded",
                "io.netty.native.workdir", "-Djava.library.path=DIR", "tls.provider: jdk").doesNotContain("\tat ");

        Path natives = Files.createDirectories(tmp.resolve("native"));
        int unpacked = 0;
        try (java.util.zip.ZipFile jar = new java.util.zip.ZipFile(JAR.toFile())) {
            for (var e : java.util.Collections.list(jar.entries())) {
                String name = e.getName();
                if (name.startsWith("META-INF/native/lib") && name.endsWith(".so")) {
                    try (var in = jar.getInputStream(e)) {
                        Files.copy(in, natives.resolve(name.substring("META-INF/native/".length())));
                    }
                    unpacked++;
                }
            }
        }
        assertThat(unpacked).isPositive();
        // Netty's work directory, where it would unpack them, is kept from deleting what it unpacked: it stays empty.
        Path unused = Files.createDirectories(tmp.resolve("netty-workdir"));
        Process p = startWard(cfg, java.util.Map.of(), "-Dio.netty.native.workdir=" + unused,
                "-Dio.netty.native.deleteLibAfterLoading=false", "-Djava.library.path=" + natives);
        try {
            awaitReady(ports[2]);
            assertThat(get(ports[2], "/config")).contains("\"tlsProvider\" : \"boringssl\"")
                    .doesNotContain("\"transportInForce\" : \"nio\""); // auto takes epoll (or io_uring) when its library loads
            try (var listing = Files.list(unused)) {
                assertThat(listing).isEmpty();
            }
        } finally {
            p.destroyForcibly();
        }
    }

    /** {@code ward proxy --config cfg} in its own process, with {@code env} and JVM flags added; output in ward.log. */
    private Process startWard(Path cfg, java.util.Map<String, String> env, String... jvmFlags) throws Exception {
        assertThat(JAR).exists();
        java.util.List<String> command = new java.util.ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        command.addAll(java.util.List.of(jvmFlags));
        command.addAll(java.util.List.of("-jar", JAR.toString(), "proxy", "--config", cfg.toString()));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(tmp.resolve("ward.log").toFile());
        pb.environment().putAll(env);
        return pb.start();
    }

    private void awaitReady(int admin) throws Exception {
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
    }

    private static String get(int port, String path) throws Exception {
        return Clients.plain().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }

    /**
     * OTEL_* variables configure tracing where the config file is silent, the config wins where
     * both speak, and /config shows the result. The collector is down: requests still succeed,
     * the lost spans are counted, and the failure is logged once, not per batch.
     */
    @Test
    void tracingFromTheEnvironmentAndTheConfigAndAnUnreachableCollector() throws Exception {
        TestPki pki = new TestPki(tmp);
        try (TestApp app = new TestApp()) {
            int[] ports = freePorts(4);
            int inbound = ports[0];
            int admin = ports[1];
            Path cfg = Files.writeString(tmp.resolve("sidecar.yaml"), Sidecars.identity(pki.issue("orders"))
                    + "inbound: { listen: 127.0.0.1:" + inbound + ", app: 127.0.0.1:" + app.port() + ", allow: ["
                    + TestPki.id("frontend") + "] }\n"
                    + "outbound: { listen: 127.0.0.1:" + ports[2] + " }\n"
                    + "admin: { listen: 127.0.0.1:" + admin + " }\n"
                    + "tracing: { sampling: 0.25 }\n");
            Process p = startWard(cfg, java.util.Map.of(
                    "OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:" + ports[3], // nothing listens there
                    "OTEL_TRACES_SAMPLER", "always_on", // the config's sampling wins
                    "OTEL_SERVICE_NAME", "orders-from-env",
                    "OTEL_BSP_SCHEDULE_DELAY", "50"));
            try {
                awaitReady(admin);
                var config = new com.fasterxml.jackson.databind.ObjectMapper().readTree(get(admin, "/config")).path("tracingInForce");
                assertThat(config.path("enabled").asBoolean()).isTrue();
                assertThat(config.path("exporter").asText()).isEqualTo("otlp");
                assertThat(config.path("protocol").asText()).isEqualTo("grpc");
                assertThat(config.path("endpoint").asText()).startsWith("http://127.0.0.1:");
                assertThat(config.path("sampler").asText()).isEqualTo("parentbased_traceidratio");
                assertThat(config.path("samplerArg").asText()).isEqualTo("0.25");
                assertThat(config.path("resource").path("service.name").asText()).isEqualTo("orders-from-env");
                assertThat(config.path("resource").path("ward.version").asText()).isNotBlank();
                assertThat(config.path("resource").path("service.instance.id").asText()).isNotBlank();

                var client = Clients.mtlsClient(pki.issue("frontend"), java.net.http.HttpClient.Version.HTTP_1_1);
                for (int i = 0; i < 20; i++) {
                    HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + inbound + "/echo"))
                            .header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333" + (i % 10) + "-01").build(),
                            HttpResponse.BodyHandlers.ofString());
                    assertThat(r.statusCode()).isEqualTo(200);
                    Thread.sleep(20);
                }
                String failed = "ward_tracing_spans_dropped_total{reason=\"export_failed\"}";
                String metrics = "";
                for (int i = 0; i < 200 && !metrics.matches("(?s).*" + java.util.regex.Pattern.quote(failed) + " [1-9].*"); i++) {
                    Thread.sleep(50);
                    metrics = get(admin, "/metrics");
                }
                assertThat(metrics).containsPattern(java.util.regex.Pattern.quote(failed) + " [1-9]");
                String log = Files.readString(tmp.resolve("ward.log"));
                assertThat(log).containsOnlyOnce("trace export failed").doesNotContain("Failed to export spans");
            } finally {
                p.destroyForcibly();
            }
        }
    }

    /** Runs {@code ward ARGS} in this JVM; asserts it exits 0; returns what it printed. */
    private static String runCli(String... args) {
        PrintStream out = System.out;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        int exit;
        try {
            exit = dev.ward.proxy.cli.WardCli.run(args);
        } finally {
            System.setOut(out);
        }
        String text = o.toString(StandardCharsets.UTF_8);
        assertThat(exit).as(text).isZero();
        return text;
    }

    @Test
    void demoWithTracesShowsEachCallsTraceInZipkin() {
        String text = runCli("demo", "--traces");
        assertThat(text).contains("Zipkin UI: http://127.0.0.1:", "Trace in Zipkin: http://127.0.0.1:")
                .containsPattern("frontend +CLIENT GET /orders/\\{id\\} +200")
                .containsPattern("orders +SERVER GET /orders/\\{id\\} +200")
                .containsPattern("orders +SERVER GET /orders/\\{id\\} +403 .*error: identity_not_allowed")
                .contains("orders' audit log: {", "\"trace_id\":");
    }

    @Test
    void demoRunsAndExplainsWhatHappened() {
        String text = runCli("demo");
        assertThat(text).contains("Allowed.", "403 {\"error\":\"identity_not_allowed\"", "The app never saw the request",
                "refused during the TLS handshake", "Demo complete");
    }
}
