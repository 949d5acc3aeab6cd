package dev.ward.telemetry.metrics;

import dev.ward.telemetry.tracing.SpanQueue;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.datapoints.GaugeDataPoint;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.ExpositionFormatWriter;
import io.prometheus.metrics.expositionformats.ExpositionFormats;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Unit;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The sidecar's Prometheus metrics, served at {@code /metrics} on the admin port. Names follow
 * Prometheus conventions: a {@code ward_} prefix, base units ({@code _seconds}, timestamps in
 * seconds since the epoch), {@code _total} counters. Label values are bounded: methods outside
 * the standard nine are {@code _OTHER}, statuses are classes ({@code 2xx}), reason codes and rule
 * names come from Ward's code and the policy, never from requests.
 *
 * <p>Per request: one counter increment and one histogram observation on data points cached per
 * (target, method, status class), no allocation; exemplars are off. Everything else is read from
 * the sidecar's own state at scrape time ({@link #register(SidecarState)}).
 */
public final class WardMetrics {

    /** Request duration buckets, in seconds: 1 ms to 60 s. */
    static final double[] BUCKETS = {.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60};
    static final String[] METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "_OTHER"};
    static final String[] CLASSES = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final ExpositionFormats formats = ExpositionFormats.init();
    private final Direction inbound;
    private final Direction outbound;
    private final Counter authz;

    public WardMetrics(String version) {
        inbound = new Direction("inbound", "service", "the local app (the service this sidecar fronts)");
        outbound = new Direction("outbound", "upstream", "an upstream");
        authz = Counter.builder().name("ward_authz_decisions_total")
                .help("Inbound authorization decisions by result (allow, deny, audit_deny), rule and reason code")
                .labelNames("result", "rule", "reason").withoutExemplars().register(registry);
        Gauge info = Gauge.builder().name("ward_build_info").help("Ward's version").labelNames("version")
                .withoutExemplars().register(registry);
        info.labelValues(version).set(1);
    }

    /** Instruments of one direction's requests. */
    private final class Direction {
        final Counter requests;
        final Histogram duration;
        final GaugeDataPoint active;
        final Map<String, Target> targets = new ConcurrentHashMap<>();

        Direction(String name, String targetLabel, String what) {
            requests = Counter.builder().name("ward_" + name + "_requests_total")
                    .help(cap(name) + " requests to " + what + ", by method and status class (Ward's own replies included)")
                    .labelNames(targetLabel, "method", "status_class").withoutExemplars().register(registry);
            duration = Histogram.builder().name("ward_" + name + "_request_duration_seconds")
                    .help(cap(name) + " request duration, from the request's first byte to the response's last")
                    .unit(Unit.SECONDS).labelNames(targetLabel, "method", "status_class")
                    .classicOnly().classicUpperBounds(BUCKETS).withoutExemplars().register(registry);
            active = Gauge.builder().name("ward_" + name + "_requests_active")
                    .help(cap(name) + " requests in flight (HTTP/1.1 exchanges and HTTP/2 streams)")
                    .withoutExemplars().register(registry).labelValues();
        }
    }

    private static String cap(String s) {
        return Character.toUpperCase(s.charAt(0)) + s.substring(1);
    }

    /** The request instruments for the local app, named {@code service}. */
    public Target inbound(String service) {
        return inbound.targets.computeIfAbsent(service, s -> new Target(inbound, s));
    }

    /** The request instruments for upstream {@code name}. */
    public Target outbound(String name) {
        Target t = outbound.targets.get(name); // asked per request: a lookup, without the lambda computeIfAbsent captures
        return t != null ? t : outbound.targets.computeIfAbsent(name, s -> new Target(outbound, s));
    }

    /** One service's or upstream's request counter and histogram, with data points cached. */
    public static final class Target {
        private final Direction d;
        private final String name;
        private final AtomicReferenceArray<CounterDataPoint> counts = new AtomicReferenceArray<>(METHODS.length * CLASSES.length);
        private final AtomicReferenceArray<DistributionDataPoint> durations = new AtomicReferenceArray<>(METHODS.length * CLASSES.length);

        private Target(Direction d, String name) {
            this.d = d;
            this.name = name;
        }

        /** A request started (for the in-flight gauge). */
        public void started() {
            d.active.inc();
        }

        /** A request ended with {@code status} after {@code nanos}. */
        public void ended(String method, int status, long nanos) {
            d.active.dec();
            int i = methodIndex(method) * CLASSES.length + classIndex(status);
            CounterDataPoint c = counts.get(i);
            if (c == null) {
                c = d.requests.labelValues(name, METHODS[i / CLASSES.length], CLASSES[i % CLASSES.length]);
                counts.set(i, c);
            }
            DistributionDataPoint h = durations.get(i);
            if (h == null) {
                h = d.duration.labelValues(name, METHODS[i / CLASSES.length], CLASSES[i % CLASSES.length]);
                durations.set(i, h);
            }
            c.inc();
            h.observe(nanos / 1e9);
        }
    }

    static int methodIndex(String m) {
        for (int i = 0; i < METHODS.length - 1; i++) {
            if (METHODS[i].equals(m)) {
                return i;
            }
        }
        return METHODS.length - 1;
    }

    static int classIndex(int status) {
        return status >= 100 && status < 600 ? status / 100 - 1 : CLASSES.length - 1;
    }

    /** One authorization decision: {@code allow}, {@code deny} or {@code audit_deny}. */
    public void authz(String result, String rule, String reason) {
        String ru = rule == null ? "" : rule;
        String re = reason == null ? "" : reason;
        AuthzPoints points = authzPoints.get(ru);
        if (points == null) {
            points = authzPoints.size() < MAX_CACHED_RULES ? authzPoints.computeIfAbsent(ru, k -> new AuthzPoints()) : null;
        }
        CounterDataPoint dp = points != null ? points.find(result, re) : null;
        if (dp == null) {
            dp = authz.labelValues(result, ru, re);
            if (points != null) {
                points.add(result, re, dp);
            }
        }
        dp.inc();
    }

    /**
     * The decision counter's data points by rule, then by result and reason: asked once per inbound
     * request, where the client's {@code labelValues} makes a label array and list and hashes them
     * (about 90 B and a map lookup per request). Rules and reasons come from the policy and Ward's
     * fixed codes, so these stay small; past the bounds below a decision is counted uncached.
     */
    private final Map<String, AuthzPoints> authzPoints = new ConcurrentHashMap<>();
    private static final int MAX_CACHED_RULES = 4096;

    /** One rule's data points: (result, reason, point) triples, copied on write, read without locks. */
    private static final class AuthzPoints {
        private static final int MAX = 32;
        private volatile Object[] triples = new Object[0];

        CounterDataPoint find(String result, String reason) {
            Object[] t = triples;
            for (int i = 0; i < t.length; i += 3) {
                if (result.equals(t[i]) && reason.equals(t[i + 1])) {
                    return (CounterDataPoint) t[i + 2];
                }
            }
            return null;
        }

        synchronized void add(String result, String reason, CounterDataPoint dp) {
            Object[] t = triples;
            if (t.length < 3 * MAX && find(result, reason) == null) {
                Object[] n = java.util.Arrays.copyOf(t, t.length + 3);
                n[t.length] = result;
                n[t.length + 1] = reason;
                n[t.length + 2] = dp;
                triples = n;
            }
        }
    }

    /** Registers the metrics read from the sidecar's state at scrape time. */
    public void register(SidecarState s) {
        GaugeWithCallback.builder().name("ward_connections_active")
                .help("Open downstream connections by listener").labelNames("listener")
                .callback(cb -> s.openConnections().forEach((l, n) -> cb.call(n, l))).register(registry);
        GaugeWithCallback.builder().name("ward_upstream_connections_active")
                .help("Open pooled connections to each upstream (and to the local app, as app)").labelNames("upstream")
                .callback(cb -> s.pooledConnections().forEach((u, n) -> cb.call(n, u))).register(registry);
        CounterWithCallback.builder().name("ward_tls_handshakes_total")
                .help("Completed TLS handshakes by direction (inbound: callers; outbound: upstreams)").labelNames("direction")
                .callback(cb -> s.handshakes().forEach((d, n) -> cb.call(n, d))).register(registry);
        CounterWithCallback.builder().name("ward_tls_handshake_failures_total")
                .help("Failed or refused TLS handshakes by direction and reason code").labelNames("direction", "reason")
                .callback(cb -> s.handshakeFailures().forEach((d, m) -> m.forEach((r, n) -> cb.call(n, d, r))))
                .register(registry);
        GaugeWithCallback.builder().name("ward_circuit_breaker_state")
                .help("1 for each upstream's current circuit-breaker state (closed, open, half_open, disabled)")
                .labelNames("upstream", "state")
                .callback(cb -> s.upstreams().forEach(u -> {
                    for (String st : new String[] {"closed", "open", "half_open"}) {
                        cb.call(st.equals(u.circuitState()) ? 1 : 0, u.name(), st);
                    }
                    if (!u.circuitState().equals("closed") && !u.circuitState().equals("open") && !u.circuitState().equals("half_open")) {
                        cb.call(1, u.name(), u.circuitState());
                    }
                })).register(registry);
        CounterWithCallback.builder().name("ward_upstream_rejected_requests_total")
                .help("Requests refused without being sent: circuit_open (breaker open) or overloaded (bulkhead full)")
                .labelNames("upstream", "reason")
                .callback(cb -> s.upstreams().forEach(u -> {
                    cb.call(u.rejectedCircuitOpen(), u.name(), "circuit_open");
                    cb.call(u.rejectedOverloaded(), u.name(), "overloaded");
                })).register(registry);
        CounterWithCallback.builder().name("ward_upstream_retries_total")
                .help("Retries sent to each upstream").labelNames("upstream")
                .callback(cb -> s.upstreams().forEach(u -> cb.call(u.retries(), u.name()))).register(registry);
        CounterWithCallback.builder().name("ward_upstream_retries_denied_total")
                .help("Retries not sent because the upstream's retry budget was spent").labelNames("upstream")
                .callback(cb -> s.upstreams().forEach(u -> cb.call(u.retriesDenied(), u.name()))).register(registry);
        CounterWithCallback.builder().name("ward_upstream_timeouts_total")
                .help("Timeouts (first byte or total) on each upstream").labelNames("upstream")
                .callback(cb -> s.upstreams().forEach(u -> cb.call(u.timeouts(), u.name()))).register(registry);
        GaugeWithCallback.builder().name("ward_upstream_endpoints")
                .help("Each upstream's endpoints, healthy or ejected by their own breaker").labelNames("upstream", "state")
                .callback(cb -> s.upstreams().forEach(u -> {
                    cb.call(u.endpoints() - u.endpointsEjected(), u.name(), "healthy");
                    cb.call(u.endpointsEjected(), u.name(), "ejected");
                })).register(registry);
        GaugeWithCallback.builder().name("ward_certificate_expiry_timestamp_seconds")
                .help("When certificates expire, in seconds since the epoch: this sidecar's (leaf) and the earliest in its trust bundle (bundle)")
                .labelNames("certificate")
                .callback(cb -> {
                    cb.call(seconds(s.leafNotAfter()), "leaf");
                    cb.call(seconds(s.bundleEarliestNotAfter()), "bundle");
                }).register(registry);
        GaugeWithCallback.builder().name("ward_policy_info")
                .help("1, labelled with the service and version of the authorization policy in force and where it came from")
                .labelNames("service", "version", "source")
                .callback(cb -> {
                    SidecarState.Policy p = s.policy();
                    cb.call(1, nz(p.service()), nz(p.version()), nz(p.source()));
                }).register(registry);
        GaugeWithCallback.builder().name("ward_policy_loaded_timestamp_seconds")
                .help("When the policy in force was loaded, in seconds since the epoch")
                .callback(cb -> cb.call(seconds(s.policy().loadedAt()))).register(registry);
    }

    /** Registers the trace exporter's counters. */
    public void register(SpanQueue q) {
        CounterWithCallback.builder().name("ward_tracing_spans_exported_total")
                .help("Spans the trace exporter delivered")
                .callback(cb -> cb.call(q.exported())).register(registry);
        CounterWithCallback.builder().name("ward_tracing_spans_dropped_total")
                .help("Sampled spans lost: queue_full (more waiting than the queue holds) or export_failed")
                .labelNames("reason")
                .callback(cb -> {
                    cb.call(q.droppedQueueFull(), "queue_full");
                    cb.call(q.droppedExportFailed(), "export_failed");
                }).register(registry);
        CounterWithCallback.builder().name("ward_tracing_export_failures_total")
                .help("Span batches the exporter failed to deliver")
                .callback(cb -> cb.call(q.failedExports())).register(registry);
        GaugeWithCallback.builder().name("ward_tracing_spans_queued")
                .help("Sampled spans waiting for, or in, an export")
                .callback(cb -> cb.call(q.pending())).register(registry);
    }

    private static double seconds(Instant t) {
        return t == null ? Double.NaN : t.getEpochSecond() + t.getNano() / 1e9;
    }

    private static String nz(String s) {
        return s == null ? "" : s;
    }

    /** The content type {@link #write} uses for a request with this {@code Accept} header (may be null). */
    public String contentType(String accept) {
        return writer(accept).getContentType();
    }

    /** Writes every metric in the format the {@code Accept} header asks for (Prometheus text by default). */
    public void write(OutputStream out, String accept) throws IOException {
        writer(accept).write(out, registry.scrape());
    }

    private ExpositionFormatWriter writer(String accept) {
        ExpositionFormatWriter w = formats.findWriter(accept);
        return w.isAvailable() ? w : formats.getPrometheusTextFormatWriter();
    }
}
