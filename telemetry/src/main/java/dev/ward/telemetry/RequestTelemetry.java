package dev.ward.telemetry;

import dev.ward.telemetry.metrics.WardMetrics;
import dev.ward.telemetry.tracing.DirectSpans;
import dev.ward.telemetry.tracing.HeadSampler;
import dev.ward.telemetry.tracing.TraceParent;
import dev.ward.telemetry.tracing.Tracing;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapPropagator;
import java.util.Objects;

/**
 * Telemetry for one direction's requests: the span (SERVER inbound, CLIENT outbound), the request
 * metrics and the access log line, all from one {@link RequestRecord} per request. The proxy
 * calls {@link #begin} when a request's head arrives and {@link RequestRecord#end} once when it is
 * over, whatever the outcome; everything else is optional detail.
 */
public final class RequestTelemetry {

    public enum Direction {
        INBOUND("inbound"), OUTBOUND("outbound");

        final String label;

        Direction(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    final Direction direction;
    final Tracer tracer;
    final TextMapPropagator propagator;
    private final HeadSampler head;
    private final DirectSpans direct;
    final WardMetrics metrics;
    final AccessLog access;
    private final WardMetrics.Target inboundTarget;
    final WardMetrics.Target unrouted;

    /**
     * {@code service}: the local service's name (the inbound metrics' {@code service} label).
     * {@code tracing} off means no spans and no header changes; {@code access} may be null (off).
     */
    public RequestTelemetry(Direction direction, Tracing tracing, WardMetrics metrics, AccessLog access, String service) {
        this.direction = Objects.requireNonNull(direction, "direction");
        this.tracer = tracing.enabled() ? tracing.tracer() : null;
        this.propagator = tracing.propagator();
        this.head = tracing.headSampler();
        this.direct = tracing.directSpans();
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        this.access = access;
        this.inboundTarget = direction == Direction.INBOUND ? metrics.inbound(service) : null;
        this.unrouted = direction == Direction.OUTBOUND ? metrics.outbound("_unrouted") : null;
    }

    /** No spans, no metrics that anyone reads, no log: for tests and tools that need none. */
    public static RequestTelemetry none(Direction direction) {
        return new RequestTelemetry(direction, Tracing.start(Tracing.Settings.none(null, "0")), new WardMetrics("0"), null, "app");
    }

    public Direction direction() {
        return direction;
    }

    public boolean tracing() {
        return tracer != null;
    }

    /**
     * A request's head arrived: reads the caller's trace context from {@code carrier} and, with
     * tracing on, starts this hop's span as its child (a root span, sampled at the configured
     * ratio, when there is none). A request that is not sampled gets no span object when the
     * {@link HeadSampler} can decide: only its trace context, carried on by {@link RequestRecord#inject}.
     * One that is sampled gets none either where {@link DirectSpans} can record its span.
     */
    public <C> RequestRecord begin(String method, String path, C carrier, TextMapGetter<C> getter) {
        return begin(method, path, getter.get(carrier, TraceParent.HEADER), carrier, getter);
    }

    /**
     * {@link #begin(String, String, Object, TextMapGetter)} with the caller's {@code traceparent}
     * already read from {@code carrier} (null if it sent none), as whatever the carrier holds: the
     * proxy passes Netty's {@code AsciiString}, so the header every request carries is read without
     * a {@code String} copy. It must be the value {@code getter} would return for that header.
     */
    public <C> RequestRecord begin(String method, String path, CharSequence traceparent, C carrier, TextMapGetter<C> getter) {
        RequestRecord r = new RequestRecord(this, method, path);
        if (head != null) {
            int flags = TraceParent.flags(traceparent);
            if (flags == TraceParent.INVALID) {
                long hi = java.util.concurrent.ThreadLocalRandom.current().nextLong();
                long lo = TraceParent.randomId(); // the sampler's part: never zero, so the id is valid
                if (!head.samplesRoot(lo)) {
                    r.unsampled(hi, lo, TraceParent.RANDOM);
                } else if (direct != null) {
                    r.startDirect(direct, hi, lo, 0, 0, TraceParent.SAMPLED | TraceParent.RANDOM);
                } else {
                    head.nextTraceId(hi, lo);
                    try {
                        r.startSpan(propagator.extract(Context.root(), carrier, getter));
                    } finally {
                        head.clearNextTraceId();
                    }
                }
            } else if ((flags & TraceParent.SAMPLED) == 0) {
                if (TraceParent.passesAsIs(traceparent, flags)) {
                    r.passOn(traceparent);
                } else {
                    r.unsampled(TraceParent.traceHi(traceparent), TraceParent.traceLo(traceparent), flags & TraceParent.RANDOM);
                }
            } else if (direct != null && getter.get(carrier, TRACESTATE) == null) {
                // A sampled caller is always continued (parent-based); its tracestate, if any, is the SDK's to parse.
                r.startDirect(direct, TraceParent.traceHi(traceparent), TraceParent.traceLo(traceparent),
                        TraceParent.parentSpanId(traceparent), flags, TraceParent.SAMPLED | flags & TraceParent.RANDOM);
            } else {
                r.startSpan(propagator.extract(Context.root(), carrier, getter));
            }
        } else if (tracer != null) {
            Context parent = propagator.extract(Context.root(), carrier, getter);
            r.startSpan(parent);
        } else {
            r.incomingTraceparent = traceparent;
        }
        if (inboundTarget != null) {
            r.target(inboundTarget);
        }
        return r;
    }

    private static final String TRACESTATE = "tracestate";

    /** A request too malformed to have a method or path: counted and logged, no span. */
    public void malformed(Object peer, int status, String reason) {
        RequestRecord r = new RequestRecord(this, "-", "-");
        r.peer(peer);
        if (inboundTarget != null) {
            r.target(inboundTarget);
        }
        r.end(status, reason);
    }
}
