package dev.ward.proxy.testing;

import com.sun.net.httpserver.HttpServer;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;
import io.opentelemetry.proto.collector.trace.v1.TraceServiceGrpc;
import io.opentelemetry.proto.common.v1.AnyValue;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.trace.v1.ResourceSpans;
import io.opentelemetry.proto.trace.v1.ScopeSpans;
import io.opentelemetry.proto.trace.v1.Span;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;

/**
 * An OTLP trace receiver on loopback, built on the official {@code opentelemetry-proto} classes:
 * the gRPC {@code TraceService} (as a collector on 4317 is) and {@code POST /v1/traces} with a
 * protobuf body (as on 4318). It decodes what exporters send and keeps every span with its
 * resource's {@code service.name}.
 */
public final class OtlpReceiver implements AutoCloseable {

    /** One received span, decoded. */
    public record Received(String service, Span span, String via) {
        public String traceId() {
            return HexFormat.of().formatHex(span.getTraceId().toByteArray());
        }

        public String spanId() {
            return HexFormat.of().formatHex(span.getSpanId().toByteArray());
        }

        public String parentSpanId() {
            return HexFormat.of().formatHex(span.getParentSpanId().toByteArray());
        }

        public Map<String, String> attributes() {
            return span.getAttributesList().stream().collect(Collectors.toMap(KeyValue::getKey, kv -> text(kv.getValue())));
        }
    }

    static String text(AnyValue v) {
        return switch (v.getValueCase()) {
            case STRING_VALUE -> v.getStringValue();
            case INT_VALUE -> Long.toString(v.getIntValue());
            case BOOL_VALUE -> Boolean.toString(v.getBoolValue());
            case DOUBLE_VALUE -> Double.toString(v.getDoubleValue());
            default -> v.toString();
        };
    }

    public final List<Received> spans = new CopyOnWriteArrayList<>();
    private final Server grpc;
    private final HttpServer http;

    public OtlpReceiver() throws IOException {
        grpc = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(new TraceServiceGrpc.TraceServiceImplBase() {
                    @Override
                    public void export(ExportTraceServiceRequest request, StreamObserver<ExportTraceServiceResponse> response) {
                        keep(request, "grpc");
                        response.onNext(ExportTraceServiceResponse.getDefaultInstance());
                        response.onCompleted();
                    }
                }).build().start();
        http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        http.createContext("/v1/traces", ex -> {
            try (ex; InputStream in = ex.getRequestBody()) {
                if (!"POST".equals(ex.getRequestMethod())
                        || !"application/x-protobuf".equals(ex.getRequestHeaders().getFirst("Content-Type"))) {
                    ex.sendResponseHeaders(415, -1);
                    return;
                }
                keep(ExportTraceServiceRequest.parseFrom(in.readAllBytes()), "http");
                byte[] ok = ExportTraceServiceResponse.getDefaultInstance().toByteArray();
                ex.getResponseHeaders().set("Content-Type", "application/x-protobuf");
                ex.sendResponseHeaders(200, ok.length == 0 ? -1 : ok.length);
                ex.getResponseBody().write(ok);
            }
        });
        http.start();
    }

    private void keep(ExportTraceServiceRequest request, String via) {
        for (ResourceSpans rs : request.getResourceSpansList()) {
            String service = rs.getResource().getAttributesList().stream().filter(kv -> kv.getKey().equals("service.name"))
                    .map(kv -> text(kv.getValue())).findFirst().orElse(null);
            for (ScopeSpans ss : rs.getScopeSpansList()) {
                for (Span s : ss.getSpansList()) {
                    spans.add(new Received(service, s, via));
                }
            }
        }
    }

    /** For {@code tracing.endpoint} with {@code exporter: otlp}. */
    public String grpcEndpoint() {
        return "http://127.0.0.1:" + grpc.getPort();
    }

    /** For {@code tracing.endpoint} with {@code exporter: otlp-http} (the path is added by Ward). */
    public String httpEndpoint() {
        return "http://127.0.0.1:" + http.getAddress().getPort();
    }

    public List<Received> trace(String traceId) {
        return spans.stream().filter(s -> s.traceId().equals(traceId)).toList();
    }

    @Override
    public void close() {
        grpc.shutdownNow();
        http.stop(0);
    }
}
