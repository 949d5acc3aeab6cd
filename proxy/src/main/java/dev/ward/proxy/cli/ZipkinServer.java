package dev.ward.proxy.cli;

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
 * A Zipkin server (the {@code io.zipkin:zipkin-server} exec jar from Maven Central) run as a
 * child process on a loopback port with in-memory storage, queried through its HTTP API: for
 * {@code ward demo --traces} and the tracing tests.
 */
public final class ZipkinServer implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();
    private ChildProcess process;
    private final int port;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private ZipkinServer(int port) {
        this.port = port;
    }

    /** The version the build fetches (the parent pom's {@code zipkin-server.version}). */
    public static final String VERSION = dev.ward.proxy.Version.property("zipkin.version", "3.6.1");

    /**
     * The jar: {@code -Dward.zipkin.jar}; else {@code zipkin/zipkin-server.jar} beside Ward's own
     * jar or in {@code target/} (where {@code mvn verify} or
     * {@code mvn -pl proxy dependency:copy@zipkin-server} puts it); else Maven's local repository.
     */
    public static Path jar() {
        java.util.List<Path> candidates = new java.util.ArrayList<>();
        String prop = System.getProperty("ward.zipkin.jar");
        if (prop != null) {
            candidates.add(Path.of(prop));
        }
        try {
            Path self = Path.of(ZipkinServer.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            candidates.add(self.getParent().resolve("zipkin/zipkin-server.jar")); // beside target/classes or target/ward.jar
        } catch (Exception ignored) {
            // no code source: try the others
        }
        candidates.add(Path.of("target/zipkin/zipkin-server.jar"));
        candidates.add(Path.of("proxy/target/zipkin/zipkin-server.jar"));
        candidates.add(Path.of(System.getProperty("user.home"), ".m2", "repository", "io", "zipkin", "zipkin-server", VERSION,
                "zipkin-server-" + VERSION + "-exec.jar"));
        for (Path p : candidates) {
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        throw new IllegalStateException("no Zipkin server jar found (looked in " + candidates + "); fetch it from Maven Central with: "
                + "mvn -q -pl proxy dependency:copy@zipkin-server   (or: mvn dependency:get -Dartifact=io.zipkin:zipkin-server:"
                + VERSION + ":jar:exec)");
    }

    public static ZipkinServer start(Path workDir) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:TieredStopAtLevel=1", "-jar", jar().toAbsolutePath().toString(),
                "--armeria.ports[0].ip=127.0.0.1", "--armeria.ports[0].port=" + port, "--armeria.ports[0].protocols[0]=http",
                "--logging.level.root=WARN");
        pb.environment().put("STORAGE_TYPE", "mem");
        pb.environment().remove("JAVA_TOOL_OPTIONS");
        ZipkinServer z = new ZipkinServer(port);
        z.process = ChildProcess.start("zipkin", pb, workDir.resolve("zipkin.log"), Duration.ofSeconds(60),
                () -> z.get("/health").statusCode() == 200);
        return z;
    }

    public int port() {
        return port;
    }

    /** The web UI's page for one trace. */
    public String traceUrl(String traceId) {
        return "http://127.0.0.1:" + port + "/zipkin/traces/" + traceId;
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
        if (process != null) {
            process.close();
        }
    }
}
