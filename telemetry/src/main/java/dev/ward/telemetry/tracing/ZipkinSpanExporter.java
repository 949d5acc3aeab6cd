package dev.ward.telemetry.tracing;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.data.EventData;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.Proxy;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import zipkin2.Endpoint;
import zipkin2.Span;
import zipkin2.codec.SpanBytesEncoder;

/**
 * Exports spans to a Zipkin v2 endpoint ({@code POST /api/v2/spans}, JSON), for Zipkin itself and
 * the backends that speak its API (Jaeger's Zipkin port among them). Spans are mapped to
 * {@link zipkin2.Span} and encoded by Zipkin's own library, as the discontinued OpenTelemetry
 * Zipkin exporter did: attributes become tags, an ERROR status becomes the {@code error} tag with
 * its description, events become annotations, {@code network.peer.address} and
 * {@code server.address}/{@code server.port} the remote endpoint. Sent with the JDK's
 * {@code HttpURLConnection} on the batch span processor's thread, which waits for the result in
 * any case: no threads of its own, and a kept-alive connection from one batch to the next. The
 * JDK's asynchronous {@code HttpClient} did the same with a selector thread, a worker pool and
 * future chains, and was two thirds of an export's CPU (perf/README.md, Tracing). A failure fails
 * the batch (the caller counts and logs it) and never throws.
 */
public final class ZipkinSpanExporter implements SpanExporter {

    public static final String DEFAULT_ENDPOINT = "http://localhost:9411/api/v2/spans";

    private static final AttributeKey<String> SERVICE_NAME = AttributeKey.stringKey("service.name");
    private static final AttributeKey<String> PEER_ADDRESS = AttributeKey.stringKey("network.peer.address");
    private static final AttributeKey<Long> PEER_PORT = AttributeKey.longKey("network.peer.port");
    private static final AttributeKey<String> SERVER_ADDRESS = AttributeKey.stringKey("server.address");
    private static final AttributeKey<Long> SERVER_PORT = AttributeKey.longKey("server.port");

    private final URI endpoint;
    private final Duration timeout;
    private volatile boolean shutdown;

    public ZipkinSpanExporter(URI endpoint, Duration timeout) {
        this.endpoint = endpoint;
        this.timeout = timeout;
    }

    /** {@code http://host:9411} and {@code http://host:9411/} mean the standard path, {@code /api/v2/spans}. */
    public static URI endpoint(String value) {
        URI u = URI.create(value);
        if (u.getScheme() == null || u.getHost() == null
                || !(u.getScheme().equals("http") || u.getScheme().equals("https"))) {
            throw new IllegalArgumentException("not an http(s) URL: " + value);
        }
        String path = u.getRawPath();
        return path == null || path.isEmpty() || path.equals("/") ? u.resolve("/api/v2/spans") : u;
    }

    @Override
    public CompletableResultCode export(Collection<SpanData> spans) {
        if (shutdown) {
            return CompletableResultCode.ofFailure();
        }
        List<Span> out = new ArrayList<>(spans.size());
        for (SpanData s : spans) {
            out.add(toZipkin(s));
        }
        byte[] body = SpanBytesEncoder.JSON_V2.encodeList(out);
        try {
            post(body);
            return CompletableResultCode.ofSuccess();
        } catch (IOException | RuntimeException e) {
            return CompletableResultCode.ofExceptionalFailure(e);
        }
    }

    /**
     * Sends one batch and reads the answer, on the calling thread (the batch span processor's,
     * which waits for the result anyway). The response body is read to its end so the JDK keeps
     * the connection for the next batch.
     */
    private void post(byte[] body) throws IOException {
        HttpURLConnection c;
        int status;
        try {
            // No proxy and no redirects, as with the HTTP client before: the endpoint is where spans go.
            c = (HttpURLConnection) endpoint.toURL().openConnection(Proxy.NO_PROXY);
            c.setInstanceFollowRedirects(false);
            int ms = (int) Math.min(Integer.MAX_VALUE, Math.max(1, timeout.toMillis()));
            c.setConnectTimeout(ms);
            c.setReadTimeout(ms);
            c.setUseCaches(false);
            c.setDoOutput(true);
            c.setRequestMethod("POST");
            c.setRequestProperty("Content-Type", "application/json");
            c.setFixedLengthStreamingMode(body.length);
            try (OutputStream o = c.getOutputStream()) {
                o.write(body);
            }
            status = c.getResponseCode();
        } catch (IOException e) {
            throw new IOException("cannot reach " + endpoint + ": " + e, e);
        }
        if (status / 100 == 2) {
            try (InputStream in = c.getInputStream()) {
                in.transferTo(OutputStream.nullOutputStream()); // to its end, so the connection is kept
            } catch (IOException e) {
                // Delivered: only the connection is lost, and the next batch opens another.
            }
            return;
        }
        String b = "";
        try (InputStream in = c.getErrorStream()) {
            if (in != null) {
                b = new String(in.readNBytes(4096), StandardCharsets.UTF_8).strip();
            }
        } catch (IOException e) {
            // The status says enough.
        }
        throw new IOException(endpoint + " answered " + status
                + (b.isEmpty() ? "" : ": " + (b.length() > 200 ? b.substring(0, 200) + "..." : b)));
    }

    static Span toZipkin(SpanData s) {
        Span.Builder b = Span.newBuilder()
                .traceId(s.getTraceId())
                .id(s.getSpanId())
                .name(s.getName())
                .timestamp(TimeUnit.NANOSECONDS.toMicros(s.getStartEpochNanos()))
                .duration(Math.max(1, TimeUnit.NANOSECONDS.toMicros(s.getEndEpochNanos() - s.getStartEpochNanos())));
        if (s.getParentSpanContext().isValid()) {
            b.parentId(s.getParentSpanId());
        }
        Span.Kind kind = switch (s.getKind()) {
            case SERVER -> Span.Kind.SERVER;
            case CLIENT -> Span.Kind.CLIENT;
            case PRODUCER -> Span.Kind.PRODUCER;
            case CONSUMER -> Span.Kind.CONSUMER;
            default -> null;
        };
        if (kind != null) {
            b.kind(kind);
        }
        String service = s.getResource().getAttribute(SERVICE_NAME);
        b.localEndpoint(Endpoint.newBuilder().serviceName(service == null ? "unknown" : service).build());
        Endpoint remote = remoteEndpoint(s.getKind(), s.getAttributes());
        if (remote != null) {
            b.remoteEndpoint(remote);
        }
        s.getAttributes().forEach((k, v) -> b.putTag(k.getKey(), tagValue(v)));
        if (s.getStatus().getStatusCode() != StatusCode.UNSET) {
            b.putTag("otel.status_code", s.getStatus().getStatusCode().name());
        }
        if (s.getStatus().getStatusCode() == StatusCode.ERROR) {
            String d = s.getStatus().getDescription();
            b.putTag("error", d == null || d.isEmpty() ? "true" : d);
        }
        var scope = s.getInstrumentationScopeInfo();
        b.putTag("otel.scope.name", scope.getName());
        if (scope.getVersion() != null) {
            b.putTag("otel.scope.version", scope.getVersion());
        }
        for (EventData e : s.getEvents()) {
            b.addAnnotation(TimeUnit.NANOSECONDS.toMicros(e.getEpochNanos()), annotation(e));
        }
        return b.build();
    }

    private static Endpoint remoteEndpoint(SpanKind kind, Attributes a) {
        if (kind != SpanKind.CLIENT && kind != SpanKind.SERVER) {
            return null;
        }
        String ip = a.get(PEER_ADDRESS);
        Long port = a.get(PEER_PORT);
        if (kind == SpanKind.CLIENT && port == null) {
            port = a.get(SERVER_PORT);
        }
        if (ip == null && port == null) {
            return null;
        }
        Endpoint.Builder e = Endpoint.newBuilder();
        if (ip != null && !e.parseIp(ip) && kind == SpanKind.CLIENT) {
            e.serviceName(ip);
        }
        if (kind == SpanKind.CLIENT && a.get(SERVER_ADDRESS) != null && ip == null) {
            e.serviceName(a.get(SERVER_ADDRESS));
        }
        if (port != null && port > 0 && port <= 65535) {
            e.port(port.intValue());
        }
        return e.build();
    }

    private static String tagValue(Object v) {
        if (v instanceof List<?> l) {
            StringBuilder sb = new StringBuilder();
            for (Object o : l) {
                sb.append(sb.length() == 0 ? "" : ",").append(o);
            }
            return sb.toString();
        }
        return String.valueOf(v);
    }

    private static String annotation(EventData e) {
        if (e.getAttributes().isEmpty()) {
            return e.getName();
        }
        StringBuilder sb = new StringBuilder(e.getName()).append(' ');
        Map<AttributeKey<?>, Object> m = e.getAttributes().asMap();
        m.forEach((k, v) -> sb.append(k.getKey()).append('=').append(tagValue(v)).append(' '));
        return sb.toString().strip();
    }

    @Override
    public CompletableResultCode flush() {
        return CompletableResultCode.ofSuccess();
    }

    @Override
    public CompletableResultCode shutdown() {
        shutdown = true;
        return CompletableResultCode.ofSuccess();
    }

    @Override
    public String toString() {
        return "ZipkinSpanExporter{" + endpoint + "}";
    }
}
