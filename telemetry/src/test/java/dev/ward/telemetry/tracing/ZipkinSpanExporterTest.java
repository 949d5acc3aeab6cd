package dev.ward.telemetry.tracing;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.testing.trace.TestSpanData;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.data.StatusData;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import zipkin2.Span;
import zipkin2.codec.SpanBytesDecoder;

/** The Zipkin exporter against a real HTTP server on loopback: what it sends, and how it fails. */
class ZipkinSpanExporterTest {

    record Received(String method, String path, String contentType, byte[] body, InetSocketAddress from) {
    }

    private final List<Received> received = new CopyOnWriteArrayList<>();
    private HttpServer server;
    private volatile int status = 202;
    private volatile String answer = "";

    private URI start() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", x -> {
            byte[] body = x.getRequestBody().readAllBytes();
            received.add(new Received(x.getRequestMethod(), x.getRequestURI().getPath(),
                    x.getRequestHeaders().getFirst("Content-Type"), body, x.getRemoteAddress()));
            byte[] out = answer.getBytes(StandardCharsets.UTF_8);
            x.sendResponseHeaders(status, out.length == 0 ? -1 : out.length);
            if (out.length > 0) {
                x.getResponseBody().write(out);
            }
            x.close();
        });
        server.start();
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.stop(0);
        }
    }

    private static SpanData span(String name, int status) {
        return TestSpanData.builder()
                .setSpanContext(SpanContext.create("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331",
                        TraceFlags.getSampled(), TraceState.getDefault()))
                .setParentSpanContext(SpanContext.create("0af7651916cd43dd8448eb211c80319c", "00f067aa0ba902b7",
                        TraceFlags.getSampled(), TraceState.getDefault()))
                .setName(name)
                .setKind(SpanKind.SERVER)
                .setStartEpochNanos(TimeUnit.SECONDS.toNanos(1_700_000_000))
                .setEndEpochNanos(TimeUnit.SECONDS.toNanos(1_700_000_000) + 1_500_000)
                .setAttributes(Attributes.builder().put("http.request.method", "GET")
                        .put("http.response.status_code", (long) status)
                        .put("network.peer.address", "127.0.0.1").put("network.peer.port", 40000L).build())
                .setStatus(status >= 500 ? StatusData.error() : StatusData.unset())
                .setResource(Resource.builder().put("service.name", "orders").build())
                .setHasEnded(true)
                .setTotalRecordedEvents(0)
                .setTotalRecordedLinks(0)
                .setTotalAttributeCount(4)
                .build();
    }

    private static CompletableResultCode export(ZipkinSpanExporter e, SpanData... spans) {
        return e.export(List.of(spans)).join(10, TimeUnit.SECONDS);
    }

    @Test
    void postsTheBatchAsZipkinJsonToTheSpansPathAndKeepsTheConnection() throws IOException {
        URI base = start();
        // A collector that answers 200 with a body (Zipkin answers 202 with none): still one connection for both batches.
        status = 200;
        answer = "{\"accepted\":2}";
        ZipkinSpanExporter e = new ZipkinSpanExporter(ZipkinSpanExporter.endpoint(base.toString()), Duration.ofSeconds(5));

        assertThat(export(e, span("GET /orders/{id}", 200), span("GET /health", 503)).isSuccess()).isTrue();
        assertThat(export(e, span("GET /x", 200)).isSuccess()).isTrue();

        assertThat(received).hasSize(2);
        Received first = received.get(0);
        assertThat(first.method()).isEqualTo("POST");
        assertThat(first.path()).isEqualTo("/api/v2/spans");
        assertThat(first.contentType()).isEqualTo("application/json");
        List<Span> spans = SpanBytesDecoder.JSON_V2.decodeList(first.body());
        assertThat(spans).extracting(Span::name).containsExactly("get /orders/{id}", "get /health");
        Span s = spans.get(0);
        assertThat(s.traceId()).isEqualTo("0af7651916cd43dd8448eb211c80319c");
        assertThat(s.parentId()).isEqualTo("00f067aa0ba902b7");
        assertThat(s.kind()).isEqualTo(Span.Kind.SERVER);
        assertThat(s.duration()).isEqualTo(1500L);
        assertThat(s.localServiceName()).isEqualTo("orders");
        assertThat(s.remoteEndpoint().ipv4()).isEqualTo("127.0.0.1");
        assertThat(s.remoteEndpoint().portAsInt()).isEqualTo(40000);
        assertThat(s.tags()).containsEntry("http.response.status_code", "200");
        assertThat(spans.get(1).tags()).containsEntry("error", "true");
        // The second batch went over the connection the first one opened.
        assertThat(received.get(1).from()).isEqualTo(first.from());
    }

    @Test
    void aCollectorThatRefusesTheBatchFailsItWithItsStatusAndAnswer() throws IOException {
        URI base = start();
        status = 503;
        answer = "storage is full\n";
        ZipkinSpanExporter e = new ZipkinSpanExporter(ZipkinSpanExporter.endpoint(base + "/api/v2/spans"), Duration.ofSeconds(5));

        CompletableResultCode r = export(e, span("GET /x", 200));

        assertThat(r.isSuccess()).isFalse();
        assertThat(r.getFailureThrowable()).hasMessage(base + "/api/v2/spans answered 503: storage is full");
        // And the next batch still goes out once the collector takes it again.
        status = 202;
        answer = "";
        assertThat(export(e, span("GET /y", 200)).isSuccess()).isTrue();
        assertThat(received).hasSize(2);
    }

    @Test
    void aRedirectIsNotFollowed() throws IOException {
        URI base = start();
        status = 307;
        ZipkinSpanExporter e = new ZipkinSpanExporter(ZipkinSpanExporter.endpoint(base.toString()), Duration.ofSeconds(5));

        CompletableResultCode r = export(e, span("GET /x", 200));

        assertThat(r.isSuccess()).isFalse();
        assertThat(r.getFailureThrowable()).hasMessage(base + "/api/v2/spans answered 307");
        assertThat(received).hasSize(1);
    }

    @Test
    void aCollectorThatIsNotThereFailsTheBatchWithoutThrowing() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        ZipkinSpanExporter e = new ZipkinSpanExporter(ZipkinSpanExporter.endpoint("http://127.0.0.1:" + port), Duration.ofSeconds(2));

        CompletableResultCode r = export(e, span("GET /x", 200));

        assertThat(r.isSuccess()).isFalse();
        assertThat(r.getFailureThrowable().getMessage())
                .startsWith("cannot reach http://127.0.0.1:" + port + "/api/v2/spans: ")
                .contains("Connection refused");
    }

    @Test
    void afterShutdownNothingIsSent() throws IOException {
        URI base = start();
        ZipkinSpanExporter e = new ZipkinSpanExporter(ZipkinSpanExporter.endpoint(base.toString()), Duration.ofSeconds(5));
        e.shutdown();

        assertThat(export(e, span("GET /x", 200)).isSuccess()).isFalse();
        assertThat(received).isEmpty();
    }
}
