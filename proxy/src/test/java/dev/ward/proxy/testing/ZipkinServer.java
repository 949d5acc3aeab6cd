package dev.ward.proxy.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A real Zipkin server (the {@code io.zipkin:zipkin-server} exec jar Maven copies before the
 * integration tests) on a loopback port, with in-memory storage, queried through its HTTP API.
 */
public final class ZipkinServer implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final Process process;
    private final int port;
    private final Path log;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private ZipkinServer(Process process, int port, Path log) {
        this.process = process;
        this.port = port;
        this.log = log;
    }

    /** The jar: {@code -Dward.zipkin.jar}, set by the build (failsafe), or {@code target/zipkin/zipkin-server.jar}. */
    public static Path jar() {
        Path p = Path.of(System.getProperty("ward.zipkin.jar", "target/zipkin/zipkin-server.jar"));
        if (!Files.isRegularFile(p)) {
            throw new IllegalStateException("no Zipkin server jar at " + p.toAbsolutePath()
                    + ": `mvn verify` copies it there (pre-integration-test), or run `mvn -pl proxy dependency:copy@zipkin-server`");
        }
        return p;
    }

    public static ZipkinServer start(Path workDir) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path log = workDir.resolve("zipkin.log");
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:TieredStopAtLevel=1", "-jar", jar().toAbsolutePath().toString(),
                "--armeria.ports[0].ip=127.0.0.1", "--armeria.ports[0].port=" + port, "--armeria.ports[0].protocols[0]=http",
                "--logging.level.root=WARN")
                .redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("STORAGE_TYPE", "mem");
        pb.environment().remove("JAVA_TOOL_OPTIONS");
        ZipkinServer z = new ZipkinServer(pb.start(), port, log);
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            if (!z.process.isAlive()) {
                throw new IllegalStateException("zipkin exited: " + Files.readString(log));
            }
            try {
                if (z.get("/health").statusCode() == 200) {
                    return z;
                }
            } catch (IOException notYet) {
                // starting
            }
            Thread.sleep(100);
        }
        z.close();
        throw new IllegalStateException("zipkin not ready within 60 s: " + Files.readString(log));
    }

    public int port() {
        return port;
    }

    /** Where spans are POSTed (Zipkin v2 JSON). */
    public String spansEndpoint() {
        return "http://127.0.0.1:" + port + "/api/v2/spans";
    }

    private HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(5)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** The spans of one trace ({@code GET /api/v2/trace/{id}}); empty while Zipkin has none. */
    public List<JsonNode> trace(String traceId) throws IOException, InterruptedException {
        HttpResponse<String> r = get("/api/v2/trace/" + traceId);
        List<JsonNode> spans = new ArrayList<>();
        if (r.statusCode() == 200) {
            JSON.readTree(r.body()).forEach(spans::add);
        }
        return spans;
    }

    /** Waits (up to 20 s) until the trace has at least {@code n} spans, and returns them. */
    public List<JsonNode> awaitTrace(String traceId, int n) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        List<JsonNode> spans = trace(traceId);
        while (spans.size() < n && System.nanoTime() < deadline) {
            Thread.sleep(100);
            spans = trace(traceId);
        }
        if (spans.size() < n) {
            throw new AssertionError("trace " + traceId + " has " + spans.size() + " spans in Zipkin, expected " + n + ": " + spans);
        }
        return spans;
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
