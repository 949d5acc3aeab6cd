package dev.ward.telemetry.tracing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ward.telemetry.RequestRecord;
import dev.ward.telemetry.RequestTelemetry;
import dev.ward.telemetry.metrics.WardMetrics;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.sdk.trace.data.EventData;
import io.opentelemetry.sdk.trace.data.SpanData;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A sampled request's span recorded without the SDK ({@link DirectSpans}) must reach the exporter
 * as the span the SDK would have recorded: the same name, kind, attributes, status, events,
 * parent, flags and resource, and the same context written into the request that goes on.
 */
class DirectSpansTest {

    private static final String CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c";
    private static final String CALLER_SPAN = "b7ad6b7169203331";
    private static final Object PEER = new Object() {
        @Override
        public String toString() {
            return "spiffe://bench.ward.test/ns/shop/sa/frontend";
        }
    };

    /** One request's span, and the {@code traceparent} its hop sent on. */
    record Hop(SpanData span, String sent) {
    }

    @AfterEach
    void clear() {
        System.clearProperty("otel.traces.exporter");
        System.clearProperty("ward.tracing.directSpans");
    }

    /** The same requests, with their spans recorded directly or by the SDK. */
    private static List<Hop> run(boolean direct) {
        System.setProperty("otel.traces.exporter", "capture");
        System.setProperty("ward.tracing.directSpans", Boolean.toString(direct));
        CapturingExporterProvider.take();
        List<String> sent = new ArrayList<>();
        try (Tracing tracing = Tracing.start(new Tracing.Settings(null, null, 1.0, null, null, "orders", "1.2.3"))) {
            assertThat(tracing.directSpans() != null).as("recorded directly").isEqualTo(direct);
            assertThat(tracing.effective()).containsEntry("sampledSpans", direct ? "ward" : "sdk");
            WardMetrics metrics = new WardMetrics("1");
            RequestTelemetry in = new RequestTelemetry(RequestTelemetry.Direction.INBOUND, tracing, metrics, null, "orders");
            RequestTelemetry out = new RequestTelemetry(RequestTelemetry.Direction.OUTBOUND, tracing, metrics, null, "orders");

            // Allowed, from a sampled caller, the path normalized on the way.
            RequestRecord r = begin(in, "GET", "/orders/42/../42?x=1", "00-" + CALLER_TRACE + "-" + CALLER_SPAN + "-01", null);
            r.peer(PEER);
            r.networkPeer("127.0.0.1", 40123, "2");
            r.server("orders.shop", 8443);
            r.authz("allow", "frontend-reads", null);
            r.path("/orders/42");
            r.upstream("app");
            sent.add(sent(r));
            r.bytes(0, 20);
            r.end(200, null);

            // Denied, from a caller whose trace id is random (level 2 flag).
            r = begin(in, "POST", "/admin", "00-" + CALLER_TRACE + "-" + CALLER_SPAN + "-03", null);
            r.peer(PEER);
            r.authz("deny", null, "no_matching_rule");
            sent.add(sent(r));
            r.end(403, "no_matching_rule");

            // Allowed by a policy in audit mode: the reason is kept, and it is no error.
            r = begin(in, "GET", "/orders", "00-" + CALLER_TRACE + "-" + CALLER_SPAN + "-01", null);
            r.authz("audit_deny", "audit-rule", "no_matching_rule");
            r.upstream("app");
            sent.add(sent(r));
            r.end(200, null);

            // A new root outbound, retried twice, then failed.
            r = begin(out, "PUT", "/payments/7f3e9a2c4b1d4e5f8a6b7c8d9e0f1a2b", null, null);
            r.upstream("payments");
            r.peer(PEER);
            r.networkPeer("127.0.0.1", 9443, "2");
            r.server("payments", 9443);
            r.retrying(1, "connection_refused");
            r.retrying(2, null);
            r.circuit("CLOSED");
            sent.add(sent(r));
            r.end(503, "upstream_unavailable");

            // A caller's tracestate: the SDK's way in both runs, and kept.
            r = begin(in, "GET", "/x", "00-" + CALLER_TRACE + "-" + CALLER_SPAN + "-01", "congo=t61rcWkgMzE");
            sent.add(sent(r));
            r.end(200, null);
        }
        List<SpanData> spans = CapturingExporterProvider.take();
        assertThat(spans).hasSize(sent.size());
        List<Hop> hops = new ArrayList<>();
        for (int i = 0; i < spans.size(); i++) {
            hops.add(new Hop(spans.get(i), sent.get(i)));
        }
        return hops;
    }

    private static RequestRecord begin(RequestTelemetry t, String method, String path, String traceparent, String tracestate) {
        Map<String, String> carrier = new HashMap<>();
        if (traceparent != null) {
            carrier.put("traceparent", traceparent);
        }
        if (tracestate != null) {
            carrier.put("tracestate", tracestate);
        }
        return t.begin(method, path, carrier, TracingTest.GETTER);
    }

    private static String sent(RequestRecord r) {
        Map<String, String> next = new HashMap<>();
        r.inject(next, Map::put);
        assertThat(r.recording()).isTrue();
        return next.get("traceparent");
    }

    @Test
    void directlyRecordedSpansAreTheSpansTheSdkRecords() {
        List<Hop> sdk = run(false);
        List<Hop> ward = run(true);
        assertThat(ward).hasSameSizeAs(sdk);
        for (int i = 0; i < sdk.size(); i++) {
            SpanData e = sdk.get(i).span();
            SpanData a = ward.get(i).span();
            String what = e.getName();
            assertThat(a.getName()).as(what).isEqualTo(e.getName());
            assertThat(a.getKind()).as(what).isEqualTo(e.getKind());
            assertThat(a.getAttributes().asMap()).as(what).isEqualTo(e.getAttributes().asMap());
            assertThat(a.getTotalAttributeCount()).as(what).isEqualTo(e.getTotalAttributeCount());
            assertThat(a.getStatus()).as(what).isEqualTo(e.getStatus());
            assertThat(withoutInstance(a.getResource())).as(what).isEqualTo(withoutInstance(e.getResource()));
            assertThat(a.getInstrumentationScopeInfo()).as(what).isEqualTo(e.getInstrumentationScopeInfo());
            assertThat(a.getLinks()).as(what).isEqualTo(e.getLinks());
            assertThat(a.getTotalRecordedEvents()).as(what).isEqualTo(e.getTotalRecordedEvents());
            assertThat(a.getEvents()).as(what).hasSameSizeAs(e.getEvents());
            for (int k = 0; k < e.getEvents().size(); k++) {
                EventData ee = e.getEvents().get(k);
                EventData ae = a.getEvents().get(k);
                assertThat(ae.getName()).isEqualTo(ee.getName());
                assertThat(ae.getAttributes().asMap()).isEqualTo(ee.getAttributes().asMap());
                assertThat(ae.getEpochNanos()).as("an event happens within its span")
                        .isBetween(a.getStartEpochNanos(), a.getEndEpochNanos());
            }
            assertThat(a.hasEnded()).isTrue();
            assertThat(a.getStartEpochNanos()).as(what).isPositive().isLessThanOrEqualTo(a.getEndEpochNanos());
            assertThat(Math.abs(a.getStartEpochNanos() - e.getStartEpochNanos())).as("started about now, as the SDK's")
                    .isLessThan(60_000_000_000L);
            SpanContext ep = e.getParentSpanContext();
            SpanContext ap = a.getParentSpanContext();
            assertThat(ap.isValid()).as(what).isEqualTo(ep.isValid());
            if (ep.isValid()) {
                assertThat(ap.getTraceId()).isEqualTo(ep.getTraceId()).isEqualTo(CALLER_TRACE);
                assertThat(ap.getSpanId()).isEqualTo(ep.getSpanId()).isEqualTo(CALLER_SPAN);
                assertThat(ap.getTraceFlags()).isEqualTo(ep.getTraceFlags());
                assertThat(ap.isRemote()).isEqualTo(ep.isRemote()).isTrue();
                assertThat(a.getTraceId()).as("continues the caller's trace").isEqualTo(CALLER_TRACE);
            }
            assertThat(a.getSpanContext().getTraceFlags()).as(what).isEqualTo(e.getSpanContext().getTraceFlags());
            assertThat(a.getSpanContext().getTraceState()).as(what).isEqualTo(e.getSpanContext().getTraceState());
            assertThat(a.getSpanContext().isRemote()).isFalse();
            for (Hop h : List.of(sdk.get(i), ward.get(i))) {
                SpanContext c = h.span().getSpanContext();
                assertThat(h.sent()).as("the next hop's parent is this span")
                        .isEqualTo("00-" + c.getTraceId() + "-" + c.getSpanId() + "-" + c.getTraceFlags().asHex());
            }
        }

        // What the requests above must have recorded, whichever way.
        SpanData allowed = ward.get(0).span();
        assertThat(allowed.getName()).isEqualTo("GET /orders/{id}");
        assertThat(allowed.getKind()).isEqualTo(SpanKind.SERVER);
        assertThat(allowed.getAttributes().get(AttributeKey.stringKey("url.path"))).isEqualTo("/orders/42");
        assertThat(allowed.getAttributes().get(RequestRecord.PEER_IDENTITY)).isEqualTo(PEER.toString());
        assertThat(allowed.getAttributes().get(RequestRecord.AUTHZ_RULE)).isEqualTo("frontend-reads");
        // Both ways build attributes in one place, so the comparison above cannot see one missing from both.
        assertThat(allowed.getAttributes().asMap()).containsEntry(AttributeKey.stringKey("server.address"), "orders.shop")
                .containsEntry(AttributeKey.longKey("server.port"), 8443L)
                .containsEntry(AttributeKey.stringKey("network.peer.address"), "127.0.0.1")
                .containsEntry(AttributeKey.longKey("network.peer.port"), 40123L)
                .containsEntry(AttributeKey.stringKey("network.protocol.version"), "2")
                .containsEntry(AttributeKey.stringKey("http.request.method"), "GET")
                .containsEntry(AttributeKey.longKey("http.response.status_code"), 200L)
                .containsEntry(RequestRecord.UPSTREAM, "app")
                .containsEntry(RequestRecord.AUTHZ_DECISION, "allow");
        assertThat(allowed.getStatus().getStatusCode()).isEqualTo(StatusCode.UNSET);
        SpanData denied = ward.get(1).span();
        assertThat(denied.getStatus().getStatusCode()).isEqualTo(StatusCode.ERROR);
        assertThat(denied.getStatus().getDescription()).isEqualTo("no_matching_rule");
        assertThat(denied.getSpanContext().getTraceFlags().isTraceIdRandom()).as("kept from the caller").isTrue();
        assertThat(ward.get(0).span().getSpanContext().getTraceFlags().isTraceIdRandom()).isFalse();
        SpanData audited = ward.get(2).span();
        assertThat(audited.getStatus().getStatusCode()).isEqualTo(StatusCode.UNSET);
        assertThat(audited.getAttributes().get(RequestRecord.REASON)).isEqualTo("no_matching_rule");
        SpanData root = ward.get(3).span();
        assertThat(root.getKind()).isEqualTo(SpanKind.CLIENT);
        assertThat(root.getName()).isEqualTo("PUT /payments/{id}");
        assertThat(root.getParentSpanContext().isValid()).isFalse();
        assertThat(root.getSpanContext().getTraceFlags().asHex()).isEqualTo("03");
        assertThat(root.getAttributes().get(RequestRecord.RETRIES)).isEqualTo(2L);
        assertThat(root.getEvents()).extracting(EventData::getName).containsExactly("ward.retry", "ward.retry");
        assertThat(root.getStatus().getDescription()).isEqualTo("upstream_unavailable");
        assertThat(root.getAttributes().asMap()).containsEntry(RequestRecord.CIRCUIT, "CLOSED")
                .containsEntry(AttributeKey.stringKey("error.type"), "upstream_unavailable")
                .containsEntry(AttributeKey.longKey("http.request.resend_count"), 2L);
        assertThat(root.getEvents().get(0).getAttributes().get(AttributeKey.stringKey("ward.retry.after"))).isEqualTo("connection_refused");
        assertThat(root.getEvents().get(1).getAttributes().get(AttributeKey.stringKey("ward.retry.after"))).isEqualTo("status");
        assertThat(ward.get(4).span().getSpanContext().getTraceState().get("congo")).isEqualTo("t61rcWkgMzE");
        assertThat(root.getResource().getAttribute(AttributeKey.stringKey("ward.version"))).isEqualTo("1.2.3");
    }

    /** A resource's attributes without its {@code service.instance.id}, which each start of tracing draws anew. */
    private static Map<AttributeKey<?>, Object> withoutInstance(io.opentelemetry.sdk.resources.Resource r) {
        Map<AttributeKey<?>, Object> m = new HashMap<>(r.getAttributes().asMap());
        assertThat(m.remove(AttributeKey.stringKey("service.instance.id"))).isNotNull();
        return m;
    }

    @Test
    void spanLimitsLeaveEverySpanToTheSdk() {
        System.setProperty("otel.traces.exporter", "capture");
        System.setProperty("otel.span.attribute.count.limit", "4");
        try (Tracing tracing = Tracing.start(new Tracing.Settings(null, null, 1.0, null, null, "orders", "1"))) {
            assertThat(tracing.headSampler()).isNotNull();
            assertThat(tracing.directSpans()).isNull();
            assertThat(tracing.effective()).containsEntry("sampledSpans", "sdk");
        } finally {
            System.clearProperty("otel.span.attribute.count.limit");
        }
    }
}
