package dev.ward.telemetry.tracing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ward.telemetry.RequestRecord;
import dev.ward.telemetry.RequestTelemetry;
import dev.ward.telemetry.metrics.WardMetrics;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.sdk.autoconfigure.spi.internal.DefaultConfigProperties;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TracingTest {

    static final TextMapGetter<Map<String, String>> GETTER = new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(Map<String, String> c) {
            return c.keySet();
        }

        @Override
        public String get(Map<String, String> c, String key) {
            return c == null ? null : c.get(key);
        }
    };

    static Map<String, String> overrides(Tracing.Settings s, Map<String, String> env) {
        return Tracing.overrides(s, DefaultConfigProperties.createFromMap(env));
    }

    static Tracing.Settings settings(String exporter, String endpoint, Double sampling, List<String> propagators) {
        return new Tracing.Settings(exporter, endpoint, sampling, propagators, null, "orders", "1.0");
    }

    @Test
    void theConfigFileWinsOverTheEnvironment() {
        Map<String, String> m = overrides(settings("zipkin", "http://zipkin:9411", 0.5, List.of("b3")),
                Map.of("otel.traces.exporter", "otlp", "otel.traces.sampler", "always_off", "otel.propagators", "tracecontext",
                        "otel.exporter.zipkin.endpoint", "http://elsewhere:9411/api/v2/spans"));
        assertThat(m).containsEntry("otel.traces.exporter", "zipkin")
                .containsEntry("otel.exporter.zipkin.endpoint", "http://zipkin:9411/api/v2/spans")
                .containsEntry("otel.traces.sampler", "parentbased_traceidratio")
                .containsEntry("otel.traces.sampler.arg", "0.5")
                .containsEntry("otel.propagators", "b3")
                .containsEntry("otel.metrics.exporter", "none")
                .containsEntry("otel.logs.exporter", "none");
    }

    @Test
    void theEnvironmentDecidesWhereTheConfigIsSilent() {
        Map<String, String> m = overrides(settings(null, null, null, null), Map.of("otel.traces.sampler", "always_on",
                "otel.exporter.otlp.endpoint", "http://collector:4318", "otel.exporter.otlp.protocol", "http/protobuf",
                "otel.propagators", "b3multi", "otel.service.name", "from-env"));
        assertThat(m).doesNotContainKeys("otel.traces.sampler", "otel.propagators", "otel.service.name",
                "otel.exporter.otlp.traces.endpoint");
        assertThat(overrides(settings(null, null, null, null), Map.of("otel.bsp.schedule.delay", "5000")))
                .doesNotContainKey("otel.bsp.schedule.delay");
        assertThat(m).containsEntry("otel.traces.exporter", "otlp").containsEntry("otel.exporter.otlp.traces.protocol", "http/protobuf");
    }

    @Test
    void wardsDefaults() {
        assertThat(overrides(settings(null, null, null, null), Map.of()))
                .containsEntry("otel.traces.exporter", "none")
                .containsEntry("otel.traces.sampler", "parentbased_traceidratio")
                .containsEntry("otel.traces.sampler.arg", "0.01")
                .containsEntry("otel.propagators", "tracecontext")
                .containsEntry("otel.service.name", "orders")
                .containsEntry("otel.bsp.schedule.delay", "1000");
        // An endpoint alone means OTLP over gRPC.
        assertThat(overrides(settings(null, "http://jaeger:4317", null, null), Map.of()))
                .containsEntry("otel.traces.exporter", "otlp")
                .containsEntry("otel.exporter.otlp.traces.protocol", "grpc")
                .containsEntry("otel.exporter.otlp.traces.endpoint", "http://jaeger:4317");
        assertThat(overrides(settings("otlp-http", "http://jaeger:4318", null, null), Map.of()))
                .containsEntry("otel.exporter.otlp.traces.endpoint", "http://jaeger:4318/v1/traces");
        // OTEL_RESOURCE_ATTRIBUTES naming the service is respected too.
        assertThat(overrides(settings(null, null, null, null), Map.of("otel.resource.attributes", "service.name=x")))
                .doesNotContainKey("otel.service.name");
    }

    @Test
    void badSettingsAreRefusedWithTheFieldNamed() {
        assertThatThrownBy(() -> settings("jaeger", null, null, null)).hasMessageContaining("exporter: jaeger")
                .hasMessageContaining("otlp, otlp-http, zipkin, none");
        assertThatThrownBy(() -> settings(null, null, 1.5, null)).hasMessageContaining("sampling: 1.5");
        assertThatThrownBy(() -> settings(null, null, null, List.of("w3c"))).hasMessageContaining("propagators: w3c");
        assertThatThrownBy(() -> settings(null, "jaeger:4317", null, null)).hasMessageContaining("endpoint: not an http(s) URL");
    }

    @Test
    void offMeansNoSdkAndNoHeaderChanges() {
        Tracing t = Tracing.start(Tracing.Settings.none("orders", "1"));
        assertThat(t.enabled()).isFalse();
        assertThat(t.effective()).containsEntry("enabled", false);
        RequestTelemetry rt = new RequestTelemetry(RequestTelemetry.Direction.INBOUND, t, new WardMetrics("1"), null, "orders");
        Map<String, String> in = Map.of("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        RequestRecord r = rt.begin("GET", "/x", in, GETTER);
        Map<String, String> out = new HashMap<>();
        r.inject(out, Map::put);
        assertThat(out).isEmpty();
        assertThat(r.traceId()).isEqualTo("0af7651916cd43dd8448eb211c80319c"); // for the logs, from the caller's header
        assertThat(r.spanId()).isNull();
        r.end(200, null);
    }

    @Test
    void theSdkIsStartedOnlyWhenAnExporterIsChosen() {
        Map<String, String> none = Map.of();
        assertThat(Tracing.wanted(settings(null, null, 0.5, List.of("b3")), none::get)).isFalse();
        assertThat(Tracing.wanted(settings("none", "http://jaeger:4317", null, null), none::get)).isFalse();
        assertThat(Tracing.wanted(settings("zipkin", null, null, null), none::get)).isTrue();
        assertThat(Tracing.wanted(settings(null, "http://jaeger:4317", null, null), none::get)).isTrue();
        // The environment's choice, as overrides() makes it.
        assertThat(Tracing.wanted(settings(null, null, null, null), Map.of("otel.traces.exporter", "otlp")::get)).isTrue();
        assertThat(Tracing.wanted(settings(null, null, null, null), Map.of("otel.traces.exporter", "none")::get)).isFalse();
        assertThat(Tracing.wanted(settings(null, null, null, null),
                Map.of("otel.exporter.otlp.traces.endpoint", "http://c:4317")::get)).isTrue();
        assertThat(Tracing.wanted(settings(null, null, null, null), Map.of("otel.exporter.otlp.endpoint", "http://c:4317")::get)).isTrue();
        // The config file wins over the environment.
        assertThat(Tracing.wanted(settings("none", null, null, null), Map.of("otel.traces.exporter", "otlp")::get)).isFalse();
        for (Map<String, String> env : List.of(none, Map.of("otel.traces.exporter", "otlp"), Map.of("otel.exporter.otlp.endpoint", "http://c"))) {
            for (Tracing.Settings s : List.of(settings(null, null, null, null), settings("zipkin", null, null, null),
                    settings("none", null, null, null), settings(null, "http://j:4317", null, null))) {
                boolean on = !"none".equals(Tracing.overrides(s, DefaultConfigProperties.createFromMap(env)).get("otel.traces.exporter"));
                assertThat(Tracing.wanted(s, env::get)).as("%s with %s", s, env).isEqualTo(on);
            }
        }
    }

    @Test
    void withNoExporterChosenTheSdkIsNotSetUpAtAll() {
        // A sampler the SDK's autoconfiguration would refuse: with no exporter it is never read.
        System.setProperty("otel.traces.sampler", "no-such-sampler");
        try {
            Tracing off = Tracing.start(Tracing.Settings.none("orders", "1"));
            assertThat(off.enabled()).isFalse();
            assertThat(off.effective().get("why").toString()).startsWith("no exporter is set");
            // Once an exporter is chosen, the SDK is set up and refuses it, naming it.
            assertThatThrownBy(() -> Tracing.start(new Tracing.Settings("zipkin", "http://127.0.0.1:9/", null, null, null, "orders", "1")))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no-such-sampler");
        } finally {
            System.clearProperty("otel.traces.sampler");
        }
    }

    /** A tracer exporting nowhere reachable: sampling decisions are what is tested, exports just fail. */
    static Tracing tracing(double ratio) {
        return Tracing.start(new Tracing.Settings("zipkin", "http://127.0.0.1:9/", ratio, null, null, "orders", "1"));
    }

    @Test
    void rootsAreSampledAtTheRatioAndASampledParentIsAlwaysContinued() {
        try (Tracing never = tracing(0.0); Tracing always = tracing(1.0)) {
            assertThat(never.enabled()).isTrue();
            assertThat(never.effective()).containsEntry("exporter", "zipkin").containsEntry("sampler", "parentbased_traceidratio")
                    .containsEntry("samplerArg", "0.0");
            RequestTelemetry n = new RequestTelemetry(RequestTelemetry.Direction.INBOUND, never, new WardMetrics("1"), null, "o");
            RequestTelemetry a = new RequestTelemetry(RequestTelemetry.Direction.INBOUND, always, new WardMetrics("1"), null, "o");

            Map<String, String> out = new HashMap<>();
            RequestRecord root = n.begin("GET", "/x", Map.of(), GETTER);
            root.inject(out, Map::put);
            assertThat(root.recording()).isFalse();
            assertThat(out.get("traceparent")).matches("00-[0-9a-f]{32}-[0-9a-f]{16}-0[02]"); // propagated, not sampled (02: random trace id)
            assertThat(root.traceId()).isEqualTo(out.get("traceparent").substring(3, 35));
            root.end(200, null);

            String parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
            RequestRecord child = n.begin("GET", "/x", Map.of("traceparent", parent), GETTER);
            assertThat(child.recording()).as("a sampled parent is continued at ratio 0").isTrue();
            assertThat(child.traceId()).isEqualTo("0af7651916cd43dd8448eb211c80319c");
            out.clear();
            child.inject(out, Map::put);
            assertThat(out.get("traceparent")).startsWith("00-0af7651916cd43dd8448eb211c80319c-").matches(".*-0[13]")
                    .doesNotContain("b7ad6b7169203331");
            child.end(200, null);

            RequestRecord unsampledParent = a.begin("GET", "/x",
                    Map.of("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"), GETTER);
            assertThat(unsampledParent.recording()).as("an unsampled parent is respected at ratio 1").isFalse();
            unsampledParent.end(200, null);
            RequestRecord sampledRoot = a.begin("GET", "/x", Map.of(), GETTER);
            assertThat(sampledRoot.recording()).isTrue();
            sampledRoot.end(200, null);
        }
    }
}
