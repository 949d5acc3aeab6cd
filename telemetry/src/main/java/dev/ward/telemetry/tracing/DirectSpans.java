package dev.ward.telemetry.tracing;

import io.opentelemetry.sdk.autoconfigure.spi.ConfigProperties;
import io.opentelemetry.sdk.common.Clock;
import io.opentelemetry.sdk.common.InstrumentationLibraryInfo;
import io.opentelemetry.sdk.common.InstrumentationScopeInfo;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.ReadableSpan;
import io.opentelemetry.sdk.trace.SpanProcessor;
import java.util.List;

/**
 * Where the sampled requests that the {@link HeadSampler} decided hand their spans: the SDK's own
 * span processors (the batch span processor behind {@link SpanQueue}) and exporters, without the
 * SDK's span objects. Such a request's span is recorded as plain fields on the event loop (its
 * trace context chosen as for an unsampled request, its attributes as the facts the proxy
 * reports) and ended as one immutable {@code ReadableSpan}. The batch processor's thread then
 * turns it into {@code SpanData} ({@code toSpanData}, which the processor calls on its own thread),
 * so the attribute map, the span's name and status are built there, not on the event loop, and
 * what waits in the heap for the next batch is the bare facts.
 *
 * <p>Only where the SDK would record the same span: the head sampler's set-up (a parent-based
 * sampler, W3C trace context), no span processor that wants to see spans start, and the SDK's
 * default span limits (Ward's spans have under 20 attributes; a limit set through
 * {@code OTEL_SPAN_*_LIMIT} or {@code OTEL_ATTRIBUTE_*_LIMIT} leaves every span to the SDK, which
 * applies it). A caller's {@code tracestate} also leaves its request to the SDK, which parses it.
 * A test holds the spans of both ways to the same attributes, names, status, events and parents.
 * The system property {@code ward.tracing.directSpans=false} turns this off.
 */
public final class DirectSpans {

    /** The instrumentation scope of Ward's spans (the tracer's name). */
    public static final String SCOPE = "dev.ward.proxy";

    private static final List<String> LIMITS = List.of("otel.attribute.value.length.limit", "otel.attribute.count.limit",
            "otel.span.attribute.value.length.limit", "otel.span.attribute.count.limit", "otel.span.event.count.limit",
            "otel.span.link.count.limit", "otel.event.attribute.count.limit", "otel.link.attribute.count.limit");

    private final SpanProcessor processor;
    private final Resource resource;
    private final InstrumentationScopeInfo scope;
    private final Clock clock = Clock.getDefault(); // the SDK tracer provider's, unless set otherwise (Ward does not)

    private DirectSpans(SpanProcessor processor, Resource resource, String version) {
        this.processor = processor;
        this.resource = resource;
        this.scope = InstrumentationScopeInfo.builder(SCOPE).setVersion(version).build();
    }

    /**
     * For the SDK set up with {@code props}, its span {@code processors} (as the tracer provider has
     * them) and {@code resource}; null where only the SDK's spans will do (see the class comment).
     */
    static DirectSpans of(ConfigProperties props, HeadSampler head, List<SpanProcessor> processors, Resource resource,
                          String version) {
        if (head == null || processors.isEmpty() || resource == null
                || "false".equalsIgnoreCase(System.getProperty("ward.tracing.directSpans"))) {
            return null;
        }
        for (String limit : LIMITS) {
            if (props.getString(limit) != null) {
                return null;
            }
        }
        for (SpanProcessor p : processors) {
            if (p.isStartRequired()) {
                return null;
            }
        }
        return new DirectSpans(SpanProcessor.composite(processors), resource, version);
    }

    /** Now, as the SDK's clock tells a span's start: nanoseconds since the epoch. */
    public long now() {
        return clock.now();
    }

    /** A recorded span is over: to the span processors, as the SDK hands them an ended span. */
    public void end(ReadableSpan span) {
        processor.onEnd(span);
    }

    public Resource resource() {
        return resource;
    }

    public InstrumentationScopeInfo scope() {
        return scope;
    }

    /** The scope in its deprecated form, which {@code ReadableSpan} and {@code SpanData} still declare (exporters read the scope). */
    @SuppressWarnings("deprecation")
    public InstrumentationLibraryInfo library() {
        return InstrumentationLibraryInfo.create(scope.getName(), scope.getVersion());
    }
}
