package dev.ward.telemetry.tracing;

import io.opentelemetry.sdk.autoconfigure.spi.ConfigProperties;
import io.opentelemetry.sdk.trace.IdGenerator;
import java.util.List;
import java.util.Set;

/**
 * Sampling without the SDK for the requests it would drop. With the usual set-up (a parent-based
 * sampler with a trace-id ratio for roots, W3C trace context) the decision is simple: a caller's
 * {@code traceparent} decides by its sampled flag, and a root request by the low 64 bits of its
 * new trace id, compared with the ratio exactly as the SDK's {@code TraceIdRatioBased} sampler
 * does. A request that is not sampled then needs no span object at all, only its trace context
 * carried on ({@link TraceParent}); the SDK (with its extract, span start, context and inject, a
 * few microseconds per request) is used only for the requests that record.
 *
 * <p>A sampled root's trace id is chosen before the SDK sees the request, so the SDK must use that
 * same id: {@link Ids}, the SDK's id generator here, hands it over. The SDK's sampler then decides
 * on the same id, and so the same way.
 *
 * <p>Any other sampler or propagator (B3, {@code always_on}, a remote sampler...) has no head
 * sampler: every request goes through the SDK.
 */
public final class HeadSampler {

    private static final Set<String> PROPAGATORS = Set.of("tracecontext", "baggage");

    private final boolean always;
    private final long bound;
    private final Ids ids;

    HeadSampler(boolean always, double ratio, Ids ids) {
        this.always = always;
        // TraceIdRatioBasedSampler's bound, so that both decide alike on every id.
        this.bound = ratio <= 0 ? Long.MIN_VALUE : ratio >= 1 ? Long.MAX_VALUE : (long) (ratio * Long.MAX_VALUE);
        this.ids = ids;
    }

    /** The head sampler for what the SDK was set up with, or null when only the SDK can decide. */
    static HeadSampler of(ConfigProperties props, Ids ids) {
        List<String> propagators = props.getList("otel.propagators");
        if (!propagators.contains("tracecontext") || !PROPAGATORS.containsAll(propagators)) {
            return null;
        }
        return switch (props.getString("otel.traces.sampler", "parentbased_always_on")) {
            case "parentbased_traceidratio" -> new HeadSampler(false, props.getDouble("otel.traces.sampler.arg", 1.0), ids);
            case "parentbased_always_on" -> new HeadSampler(true, 1, ids);
            case "parentbased_always_off" -> new HeadSampler(false, 0, ids);
            default -> null;
        };
    }

    /** Whether a root request whose trace id ends in {@code traceLo} is sampled. */
    public boolean samplesRoot(long traceLo) {
        return always || Math.abs(traceLo) < bound;
    }

    /** The trace id the SDK is to give the next root span started on this thread. */
    public void nextTraceId(long hi, long lo) {
        ids.next.set(TraceParent.traceId(hi, lo));
    }

    /** After that span started (or failed to): back to random ids. */
    public void clearNextTraceId() {
        ids.next.set(null);
    }

    /** The SDK's id generator: random ids, except for a root span whose trace id was chosen beforehand. */
    static final class Ids implements IdGenerator {
        private final IdGenerator random = IdGenerator.random();
        final ThreadLocal<String> next = new ThreadLocal<>();

        @Override
        public String generateSpanId() {
            return random.generateSpanId();
        }

        @Override
        public String generateTraceId() {
            String id = next.get();
            if (id != null) {
                next.set(null);
                return id;
            }
            return random.generateTraceId();
        }

        @Override
        public boolean generatesRandomTraceIds() {
            return true;
        }
    }
}
