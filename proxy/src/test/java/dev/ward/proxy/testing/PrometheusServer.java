package dev.ward.proxy.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.DoublePredicate;

/**
 * A real Prometheus server (Debian's {@code prometheus} package; {@code .ci/run} installs it)
 * scraping sidecars' admin ports every 500 ms, queried through its HTTP API. Prometheus's own
 * parser reads what Ward exposes, so a malformed exposition fails the scrape (and the test).
 */
public final class PrometheusServer implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();
    private dev.ward.proxy.cli.ChildProcess process;
    private final int port;
    private final HttpClient http = HttpClient.newHttpClient();

    private PrometheusServer(int port) {
        this.port = port;
    }

    static String binary(String name) {
        for (String dir : new String[] {"/usr/bin", "/usr/local/bin", "/bin"}) {
            if (Files.isExecutable(Path.of(dir, name))) {
                return Path.of(dir, name).toString();
            }
        }
        throw new IllegalStateException(name + " is not installed: `apt-get install prometheus` (.ci/run does)");
    }

    /** Scrapes each job's admin port ({@code job name -> port}). */
    public static PrometheusServer start(Path dir, Map<String, Integer> jobs) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        StringBuilder cfg = new StringBuilder("global: { scrape_interval: 500ms, scrape_timeout: 400ms }\nscrape_configs:\n");
        jobs.forEach((job, p) -> cfg.append("  - job_name: ").append(job)
                .append("\n    static_configs: [ { targets: ['127.0.0.1:").append(p).append("'] } ]\n"));
        Path config = Files.writeString(dir.resolve("prometheus.yml"), cfg);
        ProcessBuilder pb = new ProcessBuilder(binary("prometheus"), "--config.file=" + config,
                "--storage.tsdb.path=" + dir.resolve("data"), "--web.listen-address=127.0.0.1:" + port, "--log.level=warn");
        PrometheusServer s = new PrometheusServer(port);
        s.process = dev.ward.proxy.cli.ChildProcess.start("prometheus", pb, dir.resolve("prometheus.log"), Duration.ofSeconds(30),
                () -> s.get("/-/ready").statusCode() == 200);
        return s;
    }

    private HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(5)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** The value of an instant query that returns one sample, or NaN when it returns none. */
    public double query(String promql) throws IOException, InterruptedException {
        JsonNode r = JSON.readTree(get("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8)).body());
        if (!"success".equals(r.path("status").asText())) {
            throw new IllegalArgumentException(promql + ": " + r);
        }
        JsonNode result = r.path("data").path("result");
        if (result.size() == 0) {
            return Double.NaN;
        }
        if (result.size() > 1) {
            throw new IllegalArgumentException(promql + " returned " + result.size() + " series: " + result);
        }
        return result.get(0).path("value").get(1).asDouble();
    }

    /** Waits (up to 20 s, scrapes included) until {@code promql}'s value satisfies {@code ok}; returns it. */
    public double await(String promql, DoublePredicate ok) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        double v = query(promql);
        while (!ok.test(v) && System.nanoTime() < deadline) {
            Thread.sleep(100);
            v = query(promql);
        }
        if (!ok.test(v)) {
            throw new AssertionError(promql + " = " + v + " after 20 s; targets: " + get("/api/v1/targets").body());
        }
        return v;
    }

    /** Scrape health of every target: job -> "up" or the scrape error Prometheus reports. */
    public String targets() throws IOException, InterruptedException {
        return get("/api/v1/targets").body();
    }

    /** {@code promtool check metrics} on an exposition: its complaints, empty when it has none. */
    public static String lint(String exposition) throws Exception {
        Process p = new ProcessBuilder(binary("promtool"), "check", "metrics").redirectErrorStream(true).start();
        p.getOutputStream().write(exposition.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("promtool hung");
        }
        return p.exitValue() == 0 ? "" : out.isBlank() ? "exit " + p.exitValue() : out;
    }

    @Override
    public void close() {
        if (process != null) {
            process.close();
        }
    }
}
