package dev.ward.telemetry.tracing;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.spi.ConfigProperties;
import io.opentelemetry.sdk.autoconfigure.spi.ConfigurationException;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SpanProcessor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

/**
 * The OpenTelemetry SDK as the sidecar's config and the standard {@code OTEL_*} environment
 * variables (and {@code otel.*} system properties) set it up, through the SDK's own
 * autoconfiguration. Where both set a thing, the config file wins; where neither does, Ward's
 * defaults apply: parent-based sampling with a 1% trace-id ratio for root spans, W3C trace
 * context propagation, OTLP over gRPC when an exporter is wanted.
 *
 * <p>Tracing is on when an exporter is chosen: {@code tracing.exporter} in the config,
 * {@code OTEL_TRACES_EXPORTER}, or an endpoint ({@code tracing.endpoint},
 * {@code OTEL_EXPORTER_OTLP_ENDPOINT}, {@code OTEL_EXPORTER_OTLP_TRACES_ENDPOINT}), which implies
 * OTLP. Otherwise (or with {@code none}, or {@code OTEL_SDK_DISABLED=true}) there is no SDK at
 * all and Ward passes trace headers through untouched. OpenTelemetry metrics and logs exporters
 * are always off: metrics are Prometheus, on the admin port.
 *
 * <p>Spans go through the SDK's batch span processor, behind a {@link SpanQueue} that bounds the
 * spans waiting ({@code OTEL_BSP_MAX_QUEUE_SIZE}, default 2048), drops and counts the excess, and
 * counts and logs failed exports.
 */
public final class Tracing implements AutoCloseable {

    /** Exporters: OTLP over gRPC (4317), OTLP over HTTP/protobuf (4318), Zipkin v2 JSON (9411), none. */
    public static final Set<String> EXPORTERS = Set.of("otlp", "otlp-http", "zipkin", "none");
    /** Propagators Ward ships. */
    public static final Set<String> PROPAGATORS = Set.of("tracecontext", "baggage", "b3", "b3multi");
    public static final double DEFAULT_RATIO = 0.01;
    /** How long a sampled span waits to be exported at most, unless {@code OTEL_BSP_SCHEDULE_DELAY} says. */
    static final Duration SCHEDULE_DELAY = Duration.ofSeconds(1);
    private static final AttributeKey<String> SERVICE_INSTANCE = AttributeKey.stringKey("service.instance.id");
    private static final AttributeKey<String> WARD_VERSION = AttributeKey.stringKey("ward.version");

    /**
     * What the sidecar config says; null fields are unset (the environment or Ward's default
     * decides). {@code defaultServiceName} is used when neither the config nor
     * {@code OTEL_SERVICE_NAME}/{@code OTEL_RESOURCE_ATTRIBUTES} name the service.
     */
    public record Settings(String exporter, String endpoint, Double sampling, List<String> propagators,
                           String serviceName, String defaultServiceName, String version) {
        public Settings {
            if (exporter != null && !EXPORTERS.contains(exporter)) {
                throw new IllegalArgumentException("exporter: " + exporter + " (expected one of otlp, otlp-http, zipkin, none)");
            }
            if (sampling != null && !(sampling >= 0 && sampling <= 1)) {
                throw new IllegalArgumentException("sampling: " + sampling + " (expected a ratio from 0 to 1)");
            }
            if (propagators != null) {
                for (String p : propagators) {
                    if (!PROPAGATORS.contains(p)) {
                        throw new IllegalArgumentException("propagators: " + p
                                + " (expected tracecontext, baggage, b3 or b3multi)");
                    }
                }
            }
            if (endpoint != null) {
                try {
                    ZipkinSpanExporter.endpoint(endpoint); // the same http(s) URL check
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("endpoint: " + e.getMessage());
                }
            }
        }

        /** Nothing set in the config. */
        public static Settings none(String defaultServiceName, String version) {
            return new Settings(null, null, null, null, null, defaultServiceName, version);
        }
    }

    private final OpenTelemetrySdk sdk;
    private final Tracer tracer;
    private final TextMapPropagator propagator;
    private final SpanQueue queue;
    private final HeadSampler head;
    private final DirectSpans direct;
    private final Map<String, Object> effective;

    private Tracing(OpenTelemetrySdk sdk, SpanQueue queue, HeadSampler head, DirectSpans direct, Map<String, Object> effective,
                    String version) {
        this.sdk = sdk;
        this.queue = queue;
        this.head = head;
        this.direct = direct;
        this.effective = effective;
        this.tracer = sdk == null ? null : sdk.getTracer(DirectSpans.SCOPE, version);
        this.propagator = sdk == null ? TextMapPropagator.noop() : sdk.getPropagators().getTextMapPropagator();
    }

    /**
     * Sets up tracing, or returns a tracing that is off.
     *
     * @throws IllegalArgumentException with a message naming the setting, when the config or an
     *                                  {@code OTEL_*} variable is invalid
     */
    public static Tracing start(Settings s) {
        if (!wanted(s, Tracing::property)) {
            // Nothing asks for tracing: the SDK (and its autoconfiguration) is not even loaded, which
            // keeps some 170 classes out of the sidecar's memory and start-up.
            return new Tracing(null, null, null, null, off(NO_EXPORTER), s.version());
        }
        AtomicReference<ConfigProperties> finalConfig = new AtomicReference<>();
        AtomicReference<SpanQueue> queue = new AtomicReference<>();
        AtomicReference<Resource> resource = new AtomicReference<>();
        String instance = UUID.randomUUID().toString();
        HeadSampler.Ids ids = new HeadSampler.Ids();
        List<SpanProcessor> processors = new ArrayList<>(); // as the tracer provider gets them
        AutoConfiguredOpenTelemetrySdk auto;
        try {
            auto = AutoConfiguredOpenTelemetrySdk.builder()
                    .disableShutdownHook()
                    .addPropertiesCustomizer(props -> overrides(s, props))
                    .addResourceCustomizer((r, props) -> {
                        finalConfig.set(props);
                        var b = r.toBuilder().put(WARD_VERSION, s.version());
                        if (r.getAttribute(SERVICE_INSTANCE) == null) {
                            b.put(SERVICE_INSTANCE, instance);
                        }
                        Resource built = b.build();
                        resource.set(built);
                        return built;
                    })
                    .addSpanExporterCustomizer((exporter, props) -> {
                        SpanQueue q = new SpanQueue(props.getInt("otel.bsp.max.queue.size", 2048), Duration.ofSeconds(10));
                        queue.set(q);
                        return q.exporter(exporter);
                    })
                    .addTracerProviderCustomizer((builder, props) -> builder.setIdGenerator(ids))
                    .addSpanProcessorCustomizer((processor, props) -> {
                        SpanProcessor p = queue.get() == null ? processor : queue.get().processor(processor);
                        processors.add(p);
                        return p;
                    })
                    .build();
        } catch (ConfigurationException e) {
            throw new IllegalArgumentException("tracing: " + e.getMessage(), e);
        }
        ConfigProperties props = finalConfig.get();
        OpenTelemetrySdk sdk = auto.getOpenTelemetrySdk();
        String exporter = props == null ? "none" : props.getString("otel.traces.exporter", "none");
        if (props == null || props.getBoolean("otel.sdk.disabled", false) || "none".equals(exporter) || queue.get() == null) {
            sdk.close();
            return new Tracing(null, null, null, null, off(props != null && props.getBoolean("otel.sdk.disabled", false)
                    ? "OTEL_SDK_DISABLED is true" : NO_EXPORTER), s.version());
        }
        HeadSampler head = HeadSampler.of(props, ids);
        DirectSpans direct = DirectSpans.of(props, head, processors, resource.get(), s.version());
        Map<String, Object> eff = describe(props, queue.get(), resource.get());
        eff.put("unsampledRequests", head != null ? "ward" : "sdk");
        eff.put("sampledSpans", direct != null ? "ward" : "sdk");
        return new Tracing(sdk, queue.get(), head, direct, eff, s.version());
    }

    private static final String NO_EXPORTER =
            "no exporter is set (tracing.exporter, OTEL_TRACES_EXPORTER or an OTLP endpoint turns tracing on)";

    private static Map<String, Object> off(String why) {
        Map<String, Object> off = new LinkedHashMap<>();
        off.put("enabled", false);
        off.put("why", why);
        return off;
    }

    /**
     * Whether the config or the environment chooses an exporter, decided before the SDK is loaded.
     * {@code property} looks up an {@code otel.*} name as a system property, then as its
     * {@code OTEL_*} variable.
     */
    static boolean wanted(Settings s, Function<String, String> property) {
        return !exporter(s, property).trim().equalsIgnoreCase("none");
    }

    /**
     * The exporter the config file chooses, else the environment ({@code otel.traces.exporter},
     * or an OTLP endpoint, which implies OTLP), else none: Ward's name for it ({@code otlp-http}
     * is OTLP with the http/protobuf protocol).
     */
    private static String exporter(Settings s, Function<String, String> env) {
        if (s.exporter() != null) {
            return s.exporter();
        }
        String fromEnv = env.apply("otel.traces.exporter");
        if (fromEnv != null) {
            return fromEnv.equals("otlp") && "http/protobuf".equals(protocol(env)) ? "otlp-http" : fromEnv;
        }
        if (s.endpoint() != null || env.apply("otel.exporter.otlp.endpoint") != null
                || env.apply("otel.exporter.otlp.traces.endpoint") != null) {
            return "http/protobuf".equals(protocol(env)) ? "otlp-http" : "otlp";
        }
        return "none";
    }

    /** An {@code otel.*} setting as the SDK's autoconfiguration reads it: system property first, then the environment. */
    private static String property(String name) {
        String v = System.getProperty(name);
        return v != null ? v : System.getenv(name.toUpperCase(java.util.Locale.ROOT).replace('.', '_').replace('-', '_'));
    }

    /** The properties the config file imposes over the environment, and Ward's defaults where neither says. */
    static Map<String, String> overrides(Settings s, ConfigProperties env) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("otel.metrics.exporter", "none");
        m.put("otel.logs.exporter", "none");
        String exporter = exporter(s, env::getString);
        switch (exporter) {
            case "otlp" -> {
                m.put("otel.traces.exporter", "otlp");
                if (s.exporter() != null || protocol(env::getString) == null) {
                    m.put("otel.exporter.otlp.traces.protocol", "grpc");
                }
                if (s.endpoint() != null) {
                    m.put("otel.exporter.otlp.traces.endpoint", s.endpoint());
                }
            }
            case "otlp-http" -> {
                m.put("otel.traces.exporter", "otlp");
                m.put("otel.exporter.otlp.traces.protocol", "http/protobuf");
                if (s.endpoint() != null) {
                    m.put("otel.exporter.otlp.traces.endpoint", withPath(s.endpoint(), "/v1/traces"));
                }
            }
            case "zipkin" -> {
                m.put("otel.traces.exporter", "zipkin");
                if (s.endpoint() != null) {
                    m.put("otel.exporter.zipkin.endpoint", withPath(s.endpoint(), "/api/v2/spans"));
                }
            }
            default -> m.put("otel.traces.exporter", exporter);
        }
        if (s.sampling() != null) {
            m.put("otel.traces.sampler", "parentbased_traceidratio");
            m.put("otel.traces.sampler.arg", Double.toString(s.sampling()));
        } else if (env.getString("otel.traces.sampler") == null) {
            m.put("otel.traces.sampler", "parentbased_traceidratio");
            m.put("otel.traces.sampler.arg", Double.toString(DEFAULT_RATIO));
        }
        if (s.propagators() != null && !s.propagators().isEmpty()) {
            m.put("otel.propagators", String.join(",", s.propagators()));
        } else if (env.getString("otel.propagators") == null) {
            m.put("otel.propagators", "tracecontext");
        }
        if (s.serviceName() != null) {
            m.put("otel.service.name", s.serviceName());
        } else if (env.getString("otel.service.name") == null
                && !env.getMap("otel.resource.attributes").containsKey("service.name") && s.defaultServiceName() != null) {
            m.put("otel.service.name", s.defaultServiceName());
        }
        if (env.getString("otel.bsp.schedule.delay") == null) {
            // Sampled spans wait in the heap until their batch goes out. Over the SDK's 5 s, at a
            // few hundred spans a second, they outlive young collections and are copied by each,
            // in a sidecar heap of a few MiB; after 1 s most are gone before the next one.
            m.put("otel.bsp.schedule.delay", Long.toString(SCHEDULE_DELAY.toMillis()));
        }
        return m;
    }

    private static String protocol(Function<String, String> env) {
        String p = env.apply("otel.exporter.otlp.traces.protocol");
        return p != null ? p : env.apply("otel.exporter.otlp.protocol");
    }

    /** {@code http://h:4318} and {@code http://h:4318/} mean the signal's standard path. */
    static String withPath(String url, String path) {
        java.net.URI u = java.net.URI.create(url);
        String p = u.getRawPath();
        return p == null || p.isEmpty() || p.equals("/") ? u.resolve(path).toString() : url;
    }

    private static Map<String, Object> describe(ConfigProperties p, SpanQueue q, Resource resource) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("enabled", true);
        String exporter = p.getString("otel.traces.exporter", "otlp");
        String endpoint;
        if (exporter.equals("zipkin")) {
            endpoint = p.getString("otel.exporter.zipkin.endpoint", ZipkinSpanExporter.DEFAULT_ENDPOINT);
        } else {
            String proto = protocol(p::getString) == null ? "grpc" : protocol(p::getString);
            boolean grpc = proto.equals("grpc");
            exporter = grpc ? "otlp" : "otlp-http";
            String signal = p.getString("otel.exporter.otlp.traces.endpoint");
            String generic = p.getString("otel.exporter.otlp.endpoint");
            if (signal != null) {
                endpoint = signal;
            } else if (generic != null) {
                endpoint = grpc ? generic : generic.endsWith("/") ? generic + "v1/traces" : generic + "/v1/traces";
            } else {
                endpoint = grpc ? "http://localhost:4317" : "http://localhost:4318/v1/traces";
            }
            m.put("protocol", proto);
            Map<String, String> headers = new TreeMap<>(p.getMap("otel.exporter.otlp.headers"));
            headers.putAll(p.getMap("otel.exporter.otlp.traces.headers"));
            if (!headers.isEmpty()) {
                m.put("headers", List.copyOf(headers.keySet())); // names only: values are often credentials
            }
        }
        m.put("exporter", exporter);
        m.put("endpoint", endpoint);
        m.put("sampler", p.getString("otel.traces.sampler", "parentbased_always_on"));
        if (p.getString("otel.traces.sampler.arg") != null) {
            m.put("samplerArg", p.getString("otel.traces.sampler.arg"));
        }
        m.put("propagators", p.getList("otel.propagators"));
        if (resource != null) {
            Map<String, String> attrs = new TreeMap<>();
            resource.getAttributes().forEach((k, v) -> attrs.put(k.getKey(), String.valueOf(v)));
            m.put("resource", attrs);
        }
        m.put("queueSize", q.capacity());
        m.put("scheduleDelay", p.getDuration("otel.bsp.schedule.delay", SCHEDULE_DELAY).toMillis() + "ms");
        return m;
    }

    public boolean enabled() {
        return sdk != null;
    }

    /** The tracer; null when tracing is off. */
    public Tracer tracer() {
        return tracer;
    }

    /**
     * Decides sampling without the SDK and carries unsampled requests' trace context on without
     * span objects; null when tracing is off, or the sampler or propagators are ones only the SDK
     * knows.
     */
    public HeadSampler headSampler() {
        return head;
    }

    /**
     * Records the spans of sampled requests without the SDK's span objects, into the SDK's span
     * processors; null when tracing is off or only the SDK's spans will do.
     */
    public DirectSpans directSpans() {
        return direct;
    }

    public TextMapPropagator propagator() {
        return propagator;
    }

    /** The export accounting; null when tracing is off. */
    public SpanQueue queue() {
        return queue;
    }

    /** What is in force, for {@code /config}: exporter, endpoint, sampler, propagators, resource. */
    public Map<String, Object> effective() {
        return effective;
    }

    /** Exports what is queued (up to {@code timeout}) and stops. */
    public void close(Duration timeout) {
        if (sdk != null) {
            sdk.getSdkTracerProvider().shutdown().join(timeout.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public void close() {
        close(Duration.ofSeconds(5));
    }
}
