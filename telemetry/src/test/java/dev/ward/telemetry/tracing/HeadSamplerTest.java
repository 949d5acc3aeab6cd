package dev.ward.telemetry.tracing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ward.telemetry.RequestRecord;
import dev.ward.telemetry.RequestTelemetry;
import dev.ward.telemetry.metrics.WardMetrics;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import io.opentelemetry.sdk.trace.samplers.SamplingDecision;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Ward's unsampled path must decide and propagate exactly as the SDK would have. */
class HeadSamplerTest {

    private static final String PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";

    @Test
    void readsTraceparentExactlyAsTheSdkDoes() {
        List<String> cases = new ArrayList<>(List.of("", "00", PARENT, PARENT.replace("-00", "-01"), PARENT.replace("-00", "-02"),
                PARENT.replace("-00", "-ff"), PARENT.replace("-00", "-0A"), PARENT.toUpperCase(), PARENT + "-", PARENT + "0",
                "01" + PARENT.substring(2) + "-later", "01" + PARENT.substring(2) + "later", "01" + PARENT.substring(2),
                "ff" + PARENT.substring(2), "fe" + PARENT.substring(2), "0g" + PARENT.substring(2),
                "00-00000000000000000000000000000000-b7ad6b7169203331-01", "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
                " " + PARENT, PARENT.substring(0, 54)));
        Random random = new Random(42);
        String alphabet = "0123456789abcdefABCDEFgz-_ \u00e9\u0660";
        for (int i = 0; i < 20_000; i++) {
            StringBuilder b = new StringBuilder(random.nextBoolean() ? PARENT : "01" + PARENT.substring(2) + "-x");
            for (int m = random.nextInt(3); m >= 0; m--) {
                int at = random.nextInt(b.length());
                switch (random.nextInt(4)) {
                    case 0 -> b.deleteCharAt(at);
                    case 1 -> b.insert(at, alphabet.charAt(random.nextInt(alphabet.length())));
                    default -> b.setCharAt(at, alphabet.charAt(random.nextInt(alphabet.length())));
                }
            }
            cases.add(b.toString());
        }
        int valid = 0;
        for (String h : cases) {
            SpanContext sdk = Span.fromContext(W3CTraceContextPropagator.getInstance()
                    .extract(Context.root(), Map.of("traceparent", h), TracingTest.GETTER)).getSpanContext();
            int flags = TraceParent.flags(h);
            assertThat(flags != TraceParent.INVALID).as(h).isEqualTo(sdk.isValid());
            if (sdk.isValid()) {
                valid++;
                assertThat(flags).as(h).isEqualTo(sdk.getTraceFlags().asByte() & 0xff);
                assertThat(TraceParent.traceId(TraceParent.traceHi(h), TraceParent.traceLo(h))).as(h).isEqualTo(sdk.getTraceId());
            }
        }
        assertThat(valid).as("the fuzzed cases include valid ones").isGreaterThan(1000);
    }

    @Test
    void decidesRootsOnTheTraceIdAsTheSdkSamplerDoes() {
        Random random = new Random(7);
        List<Long> ids = new ArrayList<>(List.of(1L, -1L, Long.MAX_VALUE, Long.MIN_VALUE, Long.MIN_VALUE + 1));
        for (int i = 0; i < 5_000; i++) {
            ids.add(random.nextLong());
        }
        for (double ratio : new double[] {0, 1e-9, 1e-4, 0.01, 0.5, 0.999, 1}) {
            HeadSampler ward = new HeadSampler(false, ratio, new HeadSampler.Ids());
            Sampler sdk = Sampler.traceIdRatioBased(ratio);
            for (long lo : ids) {
                boolean sdkSamples = sdk.shouldSample(Context.root(), TraceParent.traceId(123, lo), "x", SpanKind.SERVER,
                        Attributes.empty(), List.of()).getDecision() == SamplingDecision.RECORD_AND_SAMPLE;
                assertThat(ward.samplesRoot(lo)).as("ratio %s, id %s", ratio, lo).isEqualTo(sdkSamples);
            }
        }
    }

    @Test
    void unsampledRequestsCarryOnTheContextTheSdkWouldInjectOrTheCallersAsItCame() {
        InMemorySpanExporter spans = InMemorySpanExporter.create();
        try (Tracing ward = TracingTest.tracing(0.0);
             SdkTracerProvider sdk = SdkTracerProvider.builder().setSampler(Sampler.parentBased(Sampler.traceIdRatioBased(0.0)))
                     .addSpanProcessor(SimpleSpanProcessor.create(spans)).build()) {
            assertThat(ward.headSampler()).isNotNull();
            assertThat(ward.effective()).containsEntry("unsampledRequests", "ward");
            RequestTelemetry t = new RequestTelemetry(RequestTelemetry.Direction.OUTBOUND, ward, new WardMetrics("1"), null, "o");
            for (String in : new String[] {null, "garbage", PARENT, PARENT.replace("-00", "-02"), PARENT.replace("-00", "-fe"),
                    "01" + PARENT.substring(2) + "-later"}) {
                Map<String, String> carrier = new HashMap<>();
                if (in != null) {
                    carrier.put("traceparent", in);
                }
                carrier.put("tracestate", "congo=t61rcWkgMzE");
                Map<String, String> expected = new HashMap<>(carrier);
                Context parent = W3CTraceContextPropagator.getInstance().extract(Context.root(), carrier, TracingTest.GETTER);
                Span span = sdk.get("x").spanBuilder("GET").setParent(parent).startSpan();
                W3CTraceContextPropagator.getInstance().inject(parent.with(span), expected, Map::put);

                // The caller's header handed over as a CharSequence (as the proxy does), not read by the getter.
                RequestRecord r = t.begin("GET", "/x", in == null ? null : new StringBuilder(in), carrier, TracingTest.GETTER);
                Map<String, String> actual = new HashMap<>(carrier);
                r.inject(actual, Map::put);
                assertThat(r.recording()).isFalse();
                String e = expected.get("traceparent");
                String a = actual.get("traceparent");
                // A carrier that takes bytes gets the same header, as bytes (the proxy's way: no String).
                Map<String, byte[]> latin1 = new HashMap<>();
                r.inject(new HashMap<String, String>(), new TraceParent.BytesSetter<Map<String, String>>() {
                    @Override
                    public void set(Map<String, String> c, String key, String value) {
                        throw new AssertionError("an unsampled traceparent goes in as bytes");
                    }

                    @Override
                    public void setLatin1(Map<String, String> c, String key, byte[] value) {
                        latin1.put(key, value);
                    }
                });
                assertThat(a).as(in).matches("00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
                        .endsWith(e.substring(52)); // the same flags
                boolean asIs = PARENT.equals(in) || PARENT.replace("-00", "-02").equals(in);
                if (asIs) {
                    // A version-00 context with no flag but the random bit goes on as it came: the SDK's
                    // would differ only in a span id that no span has (nothing here records).
                    assertThat(latin1).as("nothing written").isEmpty();
                    assertThat(a).isEqualTo(in);
                    assertThat(a.substring(0, 36)).isEqualTo(e.substring(0, 36));
                    assertThat(r.traceId()).isEqualTo(in.substring(3, 35));
                    assertThat(r.spanId()).as("the caller's span id, the parent the next hop sees").isEqualTo(in.substring(36, 52));
                    r.end(200, null);
                    span.end();
                    continue;
                }
                assertThat(new String(latin1.get("traceparent"), java.nio.charset.StandardCharsets.ISO_8859_1)).isEqualTo(a);
                if (in != null && span.getSpanContext().getTraceId().equals(parent(in))) {
                    assertThat(a).as(in).startsWith(e.substring(0, 36)); // the caller's trace id
                    assertThat(a.substring(36, 52)).as("a span id of this hop's own").isNotEqualTo(in.substring(36, 52));
                }
                assertThat(actual.get("tracestate")).isEqualTo(expected.get("tracestate"));
                assertThat(r.traceId()).isEqualTo(a.substring(3, 35));
                assertThat(r.spanId()).isEqualTo(a.substring(36, 52));
                r.end(200, null);
                span.end();
            }
            assertThat(spans.getFinishedSpanItems()).isEmpty();
        }
    }

    private static String parent(String traceparent) {
        return traceparent.length() >= 35 ? traceparent.substring(3, 35) : "";
    }

    @Test
    void aSampledRootKeepsTheTraceIdItWasDecidedOn() {
        try (Tracing half = TracingTest.tracing(0.5)) {
            HeadSampler head = half.headSampler();
            head.nextTraceId(0x1234, 0x42);
            Span chosen = half.tracer().spanBuilder("x").setNoParent().startSpan();
            Span next = half.tracer().spanBuilder("x").setNoParent().startSpan();
            assertThat(chosen.getSpanContext().getTraceId()).isEqualTo("0000000000001234" + "0000000000000042");
            assertThat(next.getSpanContext().getTraceId()).as("one span only").isNotEqualTo(chosen.getSpanContext().getTraceId());

            // Through a request: a root Ward samples is one the SDK records, so the share recorded is the
            // ratio (were the SDK to draw its own id and decide again, it would be the ratio squared).
            RequestTelemetry t = new RequestTelemetry(RequestTelemetry.Direction.INBOUND, half, new WardMetrics("1"), null, "o");
            int recorded = 0;
            for (int i = 0; i < 400; i++) {
                RequestRecord r = t.begin("GET", "/x", Map.of(), TracingTest.GETTER);
                Map<String, String> out = new HashMap<>();
                r.inject(out, Map::put);
                assertThat(out.get("traceparent")).endsWith(r.recording() ? "-03" : "-02");
                recorded += r.recording() ? 1 : 0;
                r.end(200, null);
            }
            assertThat(recorded).isBetween(140, 260);
        }
    }

    @Test
    void otherSamplersAndPropagatorsLeaveEveryRequestToTheSdk() {
        try (Tracing b3 = Tracing.start(new Tracing.Settings("zipkin", "http://127.0.0.1:9/", 0.01, List.of("b3"), null, "o", "1"))) {
            assertThat(b3.headSampler()).isNull();
            assertThat(b3.effective()).containsEntry("unsampledRequests", "sdk");
        }
        System.setProperty("otel.traces.sampler", "always_on");
        try (Tracing alwaysOn = Tracing.start(new Tracing.Settings("zipkin", "http://127.0.0.1:9/", null, null, null, "o", "1"))) {
            assertThat(alwaysOn.headSampler()).isNull();
        } finally {
            System.clearProperty("otel.traces.sampler");
        }
    }
}
