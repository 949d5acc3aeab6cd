package dev.ward.proxy.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ward.proxy.Sidecar;
import dev.ward.proxy.testing.Await;
import dev.ward.proxy.testing.Clients;
import dev.ward.proxy.testing.OtlpReceiver;
import dev.ward.proxy.testing.Sidecars;
import dev.ward.proxy.testing.TestApp;
import dev.ward.proxy.testing.TestPki;
import dev.ward.proxy.cli.ZipkinServer;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Traces of requests through two sidecars (frontend's A, outbound; orders' B, inbound), exported
 * to a real Zipkin server and to an OTLP receiver built on the official protos: one trace per
 * request, A's CLIENT span the parent of B's SERVER span, the app's request carrying B's span as
 * its parent, the semantic-convention and Ward attributes on both, denies as errors with their
 * reason, and the access log carrying the same trace and span ids.
 */
class TracingIT {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String POLICY = """
            service: orders
            version: "7"
            rules:
              - name: frontend-reads-orders
                from: [%s]
                methods: [GET]
                paths: [/orders, /orders/*]
            """;

    static {
        // Export every 100 ms instead of every 5 s; a system property, as OTEL_BSP_SCHEDULE_DELAY would be.
        System.setProperty("otel.bsp.schedule.delay", "100");
    }

    @TempDir
    static Path shared;
    static ZipkinServer zipkin;

    @TempDir
    Path tmp;
    TestPki pki;
    TestApp app;
    Sidecar a;
    Sidecar b;

    @BeforeAll
    static void startZipkin() throws Exception {
        zipkin = ZipkinServer.start(shared);
    }

    @AfterAll
    static void stopZipkin() {
        if (zipkin != null) {
            zipkin.close();
        }
    }

    @BeforeEach
    void setUp() throws Exception {
        pki = new TestPki(tmp);
        app = new TestApp();
    }

    @AfterEach
    void tearDown() {
        if (a != null) {
            a.close();
        }
        if (b != null) {
            b.close();
        }
        app.close();
    }

    /** B (orders, inbound to the app) and A (frontend, outbound to B), with these tracing settings. */
    void start(String tracingA, String tracingB) throws Exception {
        Path policy = Files.writeString(tmp.resolve("policy.yaml"), POLICY.formatted(TestPki.id("frontend")));
        b = Sidecars.start(Sidecars.identity(pki.issue("orders"))
                + "inbound: { listen: 127.0.0.1:0, app: 127.0.0.1:" + app.port() + " }\n"
                + "outbound: { listen: 127.0.0.1:0 }\n"
                + "policy: { file: " + policy + " }\n"
                + "accessLog: all\naccessLogFile: " + tmp.resolve("b-access.log") + "\n"
                + "tracing: " + tracingB + "\n");
        a = Sidecars.outbound(pki.issue("frontend"), b.port("inbound"), TestPki.id("orders"), "h2",
                "tracing: " + tracingA + "\n");
    }

    /** Both sidecars exporting to the test's Zipkin as {@code frontend} (A) and {@code orders} (B), with {@code settings} added. */
    void startWithZipkin(String settings) throws Exception {
        String cfg = "{ exporter: zipkin, endpoint: " + zipkin.spansEndpoint() + settings + ", serviceName: %s }";
        start(cfg.formatted("frontend"), cfg.formatted("orders"));
    }

    HttpResponse<String> call(String path, Map<String, String> headers) throws Exception {
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + a.port("upstream:orders") + path));
        headers.forEach(r::header);
        return Clients.plain().send(r.build(), HttpResponse.BodyHandlers.ofString());
    }

    static String hex(int bytes) {
        byte[] b = new byte[bytes];
        ThreadLocalRandom.current().nextBytes(b);
        b[0] |= 1; // never all zeros
        return HexFormat.of().formatHex(b);
    }

    static JsonNode kind(List<JsonNode> spans, String kind) {
        return spans.stream().filter(s -> kind.equals(s.path("kind").asText())).findFirst()
                .orElseThrow(() -> new AssertionError("no " + kind + " span in " + spans));
    }

    static String tag(JsonNode span, String key) {
        return span.path("tags").path(key).asText(null);
    }

    @Test
    void aRequestThroughTwoSidecarsIsOneTraceInZipkin() throws Exception {
        startWithZipkin("");
        String traceId = hex(16);
        String callerSpan = hex(8);
        // The caller's sampled traceparent is continued although the default ratio is 1%.
        HttpResponse<String> res = call("/orders/42", Map.of("traceparent", "00-" + traceId + "-" + callerSpan + "-01"));
        assertThat(res.statusCode()).isEqualTo(200);

        List<JsonNode> spans = zipkin.awaitTrace(traceId, 2);
        assertThat(spans).hasSize(2);
        JsonNode client = kind(spans, "CLIENT");
        JsonNode server = kind(spans, "SERVER");
        assertThat(client.path("parentId").asText()).isEqualTo(callerSpan);
        assertThat(server.path("parentId").asText()).as("B's server span is a child of A's client span")
                .isEqualTo(client.path("id").asText());
        assertThat(client.path("localEndpoint").path("serviceName").asText()).isEqualTo("frontend");
        assertThat(server.path("localEndpoint").path("serviceName").asText()).isEqualTo("orders");
        assertThat(client.path("name").asText()).isEqualTo("get /orders/{id}"); // Zipkin lower-cases span names
        assertThat(server.path("name").asText()).isEqualTo("get /orders/{id}");

        assertThat(tag(server, "http.request.method")).isEqualTo("GET");
        assertThat(tag(server, "url.path")).isEqualTo("/orders/42");
        assertThat(tag(server, "http.response.status_code")).isEqualTo("200");
        assertThat(tag(server, "server.port")).isEqualTo(Integer.toString(b.port("inbound")));
        assertThat(tag(server, "network.peer.address")).isEqualTo("127.0.0.1");
        assertThat(tag(server, "network.protocol.version")).isEqualTo("2");
        assertThat(tag(server, "ward.peer.identity")).isEqualTo(TestPki.id("frontend").toString());
        assertThat(tag(server, "ward.authz.decision")).isEqualTo("allow");
        assertThat(tag(server, "ward.authz.rule")).isEqualTo("frontend-reads-orders");
        assertThat(tag(server, "ward.reason")).isEqualTo("allowed");
        assertThat(tag(server, "error")).isNull();

        assertThat(tag(client, "http.request.method")).isEqualTo("GET");
        assertThat(tag(client, "http.response.status_code")).isEqualTo("200");
        assertThat(tag(client, "server.port")).isEqualTo(Integer.toString(b.port("inbound")));
        assertThat(tag(client, "network.peer.address")).isEqualTo("127.0.0.1");
        assertThat(tag(client, "ward.upstream")).isEqualTo("orders");
        assertThat(tag(client, "ward.peer.identity")).isEqualTo(TestPki.id("orders").toString());
        assertThat(tag(client, "ward.circuit_breaker.state")).isEqualTo("closed");
        assertThat(tag(client, "ward.retries")).isEqualTo("0");

        // The app's own spans join the trace: its request carries B's server span as the parent.
        assertThat(app.lastHeaders.get().getFirst("traceparent"))
                .isEqualTo("00-" + traceId + "-" + server.path("id").asText() + "-01");
        // The access log line of B names the same trace and span.
        Await.until(() -> readQuietly(tmp.resolve("b-access.log")).contains(traceId));
        JsonNode line = JSON.readTree(readQuietly(tmp.resolve("b-access.log")).lines()
                .filter(l -> l.contains(traceId)).findFirst().orElseThrow());
        assertThat(line.path("span_id").asText()).isEqualTo(server.path("id").asText());
        assertThat(line.path("direction").asText()).isEqualTo("inbound");
    }

    @Test
    void anUnsampledRequestKeepsItsTraceIdThroughBothHopsAndRecordsNothing() throws Exception {
        startWithZipkin(", sampling: 0.0");
        // A caller's unsampled context: neither hop records a span, so both carry it on as it came
        // (W3C Trace Context lets a hop that records nothing keep the parent id).
        String traceId = hex(16);
        String callerSpan = hex(8);
        String callers = "00-" + traceId + "-" + callerSpan + "-00";
        assertThat(call("/orders/3", Map.of("traceparent", callers)).statusCode()).isEqualTo(200);
        assertThat(app.lastHeaders.get().getFirst("traceparent")).isEqualTo(callers);
        Await.until(() -> readQuietly(tmp.resolve("b-access.log")).contains(traceId));
        JsonNode line = JSON.readTree(readQuietly(tmp.resolve("b-access.log")).lines()
                .filter(l -> l.contains(traceId)).findFirst().orElseThrow());
        assertThat(line.path("span_id").asText()).as("the span id the app sees as its parent").isEqualTo(callerSpan);

        // An unsampled context with a flag Ward does not know goes on as the W3C propagator writes it:
        // the caller's trace id, a span id of this hop's own, only the flags it knows.
        String other = hex(16);
        assertThat(call("/orders/3", Map.of("traceparent", "00-" + other + "-" + callerSpan + "-80")).statusCode()).isEqualTo(200);
        assertThat(app.lastHeaders.get().getFirst("traceparent")).startsWith("00-" + other + "-").endsWith("-00")
                .doesNotContain(callerSpan);

        // No caller context: A starts the trace (not sampled, random id: flags 02) and B carries it on.
        assertThat(call("/orders/4", Map.of()).statusCode()).isEqualTo(200);
        String root = app.lastHeaders.get().getFirst("traceparent");
        assertThat(root).matches("00-[0-9a-f]{32}-[0-9a-f]{16}-02");
        Await.until(() -> readQuietly(tmp.resolve("b-access.log")).contains(root.substring(3, 35)));
        JsonNode rootLine = JSON.readTree(readQuietly(tmp.resolve("b-access.log")).lines()
                .filter(l -> l.contains(root.substring(3, 35))).findFirst().orElseThrow());
        assertThat(rootLine.path("span_id").asText()).isEqualTo(root.substring(36, 52));

        // A sampled request sent after them is exported; by then the unsampled ones would have been too.
        String sampled = hex(16);
        assertThat(call("/orders/5", Map.of("traceparent", "00-" + sampled + "-" + hex(8) + "-01")).statusCode()).isEqualTo(200);
        zipkin.awaitTrace(sampled, 2);
        assertThat(zipkin.trace(traceId)).isEmpty();
        assertThat(zipkin.trace(root.substring(3, 35))).isEmpty();
    }

    @Test
    void aDeniedRequestIsAnErrorSpanWithItsReason() throws Exception {
        startWithZipkin(", sampling: 1.0");
        int before = app.requests.get();
        HttpResponse<String> res = call("/admin/users", Map.of());
        assertThat(res.statusCode()).isEqualTo(403);
        assertThat(app.requests.get()).isEqualTo(before);
        // No traceparent from the caller: A started a root trace (sampling 1.0); B's audit line has its id.
        String traceId = traceIdOfLatestAuditOrAccess();
        List<JsonNode> spans = zipkin.awaitTrace(traceId, 2);
        JsonNode server = kind(spans, "SERVER");
        JsonNode client = kind(spans, "CLIENT");
        assertThat(client.has("parentId")).isFalse();
        assertThat(server.path("parentId").asText()).isEqualTo(client.path("id").asText());
        assertThat(tag(server, "error")).isEqualTo("no_matching_rule");
        assertThat(tag(server, "otel.status_code")).isEqualTo("ERROR");
        assertThat(tag(server, "ward.authz.decision")).isEqualTo("deny");
        assertThat(tag(server, "ward.reason")).isEqualTo("no_matching_rule");
        assertThat(tag(server, "error.type")).isEqualTo("no_matching_rule");
        assertThat(tag(server, "http.response.status_code")).isEqualTo("403");
        assertThat(tag(client, "otel.status_code")).isEqualTo("ERROR");
        assertThat(tag(client, "http.response.status_code")).isEqualTo("403");
    }

    private String traceIdOfLatestAuditOrAccess() throws Exception {
        Await.until(() -> readQuietly(tmp.resolve("b-access.log")).contains("\"status\":403"));
        String line = readQuietly(tmp.resolve("b-access.log")).lines().filter(l -> l.contains("\"status\":403"))
                .reduce((x, y) -> y).orElseThrow();
        return JSON.readTree(line).path("trace_id").asText();
    }

    @Test
    void otlpOverGrpcAndHttpDeliverTheSameTraceShape() throws Exception {
        try (OtlpReceiver otlp = new OtlpReceiver()) {
            start("{ exporter: otlp, endpoint: " + otlp.grpcEndpoint() + ", serviceName: frontend }",
                    "{ exporter: otlp-http, endpoint: " + otlp.httpEndpoint() + ", serviceName: orders }");
            String traceId = hex(16);
            assertThat(call("/orders/7", Map.of("traceparent", "00-" + traceId + "-" + hex(8) + "-01")).statusCode())
                    .isEqualTo(200);
            Await.until(() -> otlp.trace(traceId).size() >= 2);
            List<OtlpReceiver.Received> spans = otlp.trace(traceId);
            OtlpReceiver.Received client = spans.stream()
                    .filter(s -> s.span().getKind() == io.opentelemetry.proto.trace.v1.Span.SpanKind.SPAN_KIND_CLIENT)
                    .findFirst().orElseThrow();
            OtlpReceiver.Received server = spans.stream()
                    .filter(s -> s.span().getKind() == io.opentelemetry.proto.trace.v1.Span.SpanKind.SPAN_KIND_SERVER)
                    .findFirst().orElseThrow();
            assertThat(client.via()).isEqualTo("grpc");
            assertThat(client.service()).isEqualTo("frontend");
            assertThat(server.via()).isEqualTo("http");
            assertThat(server.service()).isEqualTo("orders");
            assertThat(server.parentSpanId()).isEqualTo(client.spanId());
            assertThat(server.span().getName()).isEqualTo("GET /orders/{id}");
            assertThat(server.attributes()).containsEntry("http.request.method", "GET")
                    .containsEntry("url.path", "/orders/7")
                    .containsEntry("http.response.status_code", "200")
                    .containsEntry("ward.authz.rule", "frontend-reads-orders")
                    .containsEntry("ward.peer.identity", TestPki.id("frontend").toString());
            assertThat(client.attributes()).containsEntry("ward.upstream", "orders").containsEntry("ward.retries", "0");
            assertThat(server.span().getStatus().getCode())
                    .isEqualTo(io.opentelemetry.proto.trace.v1.Status.StatusCode.STATUS_CODE_UNSET);
        }
    }

    @Test
    void aFailedCallIsAnErrorClientSpanWithItsRetries() throws Exception {
        int closed;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            closed = s.getLocalPort(); // nothing listens there once closed
        }
        try (OtlpReceiver otlp = new OtlpReceiver()) {
            a = Sidecars.outbound(pki.issue("frontend"), closed, TestPki.id("orders"), "h2",
                    "tracing: { exporter: otlp, endpoint: " + otlp.grpcEndpoint() + ", sampling: 1.0, serviceName: frontend }\n");
            HttpResponse<String> res = call("/orders/9", Map.of());
            assertThat(res.statusCode()).isEqualTo(502);
            Await.until(() -> !otlp.spans.isEmpty());
            OtlpReceiver.Received client = otlp.spans.get(0);
            assertThat(client.span().getKind()).isEqualTo(io.opentelemetry.proto.trace.v1.Span.SpanKind.SPAN_KIND_CLIENT);
            assertThat(client.span().getStatus().getCode()).isEqualTo(io.opentelemetry.proto.trace.v1.Status.StatusCode.STATUS_CODE_ERROR);
            assertThat(client.span().getStatus().getMessage()).isEqualTo("upstream_unavailable");
            assertThat(client.attributes()).containsEntry("error.type", "upstream_unavailable")
                    .containsEntry("http.response.status_code", "502")
                    .containsEntry("ward.retries", "2") // connect failures are retried twice by default
                    .containsEntry("http.request.resend_count", "2")
                    .containsEntry("ward.circuit_breaker.state", "closed");
            assertThat(client.span().getEventsList()).extracting(e -> e.getName()).containsExactly("ward.retry", "ward.retry");
        }
    }

    @Test
    void b3PropagationJoinsTheCallersTrace() throws Exception {
        startWithZipkin(", propagators: [b3]");
        String traceId = hex(16);
        String callerSpan = hex(8);
        assertThat(call("/orders/1", Map.of("b3", traceId + "-" + callerSpan + "-1")).statusCode()).isEqualTo(200);
        List<JsonNode> spans = zipkin.awaitTrace(traceId, 2);
        JsonNode server = kind(spans, "SERVER");
        assertThat(kind(spans, "CLIENT").path("parentId").asText()).isEqualTo(callerSpan);
        assertThat(app.lastHeaders.get().getFirst("b3")).startsWith(traceId + "-" + server.path("id").asText());
        assertThat(app.lastHeaders.get().getFirst("traceparent")).isNull();
    }

    @Test
    void withTracingOffHeadersPassThroughUntouched() throws Exception {
        start("{}", "{}");
        String tp = "00-" + hex(16) + "-" + hex(8) + "-01";
        assertThat(call("/orders/1", Map.of("traceparent", tp)).statusCode()).isEqualTo(200);
        assertThat(app.lastHeaders.get().getFirst("traceparent")).isEqualTo(tp);
    }

    static String readQuietly(Path p) {
        try {
            return Files.exists(p) ? Files.readString(p, StandardCharsets.UTF_8) : "";
        } catch (java.io.IOException e) {
            return "";
        }
    }
}
