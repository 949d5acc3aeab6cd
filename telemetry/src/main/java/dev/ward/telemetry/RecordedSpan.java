package dev.ward.telemetry;

import dev.ward.telemetry.tracing.DirectSpans;
import dev.ward.telemetry.tracing.PathTemplate;
import dev.ward.telemetry.tracing.TraceParent;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.sdk.common.InstrumentationLibraryInfo;
import io.opentelemetry.sdk.common.InstrumentationScopeInfo;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.ReadableSpan;
import io.opentelemetry.sdk.trace.data.EventData;
import io.opentelemetry.sdk.trace.data.LinkData;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.data.StatusData;
import io.opentelemetry.semconv.ErrorAttributes;
import io.opentelemetry.semconv.HttpAttributes;
import io.opentelemetry.semconv.NetworkAttributes;
import io.opentelemetry.semconv.ServerAttributes;
import io.opentelemetry.semconv.UrlAttributes;
import java.util.ArrayList;
import java.util.List;

/**
 * A sampled request's span as the facts its {@link RequestRecord} gathered, frozen when the
 * request ended: its name, attributes and status are made from them here, in one place, for both
 * ways a span is recorded. A span the SDK started gets them just before it ends
 * ({@link #endSdkSpan}); a span recorded without the SDK ({@link DirectSpans}) is this object,
 * handed to the span processors as an ended {@code ReadableSpan}, and the batch processor's thread
 * builds its {@code SpanData} ({@link #toSpanData}). Immutable once made.
 */
final class RecordedSpan implements ReadableSpan {

    private static final AttributeKey<String> RETRY_FAILURE = AttributeKey.stringKey("ward.retry.after");

    /** A retry, as a span event: when (epoch nanoseconds), the count so far, and what failed ({@code null}: the status). */
    record Retry(long epochNanos, int retries, String failure) {
    }

    private final boolean client;
    private final String method;
    private final String path;
    /** The span-only facts, no longer written: the record let go of them when the request ended. */
    private final RequestRecord.SpanFacts f;
    private final String decision;
    private final String rule;
    private final Object peer;
    private final String upstream;
    private final String circuit;
    private final int retries;
    private final int status;
    private final String reason;
    private final long latencyNanos;
    /** Recorded without the SDK: this span's context (invalid for a span the SDK started). */
    private final SpanContext context;

    /**
     * {@code r} ended with {@code status} and {@code reason} after {@code latencyNanos}. Takes over
     * {@code r}'s span facts, which {@code r} must not write again (it drops them as it ends); the
     * facts it shares with the access log are copied.
     */
    RecordedSpan(RequestRecord r, int status, String reason, long latencyNanos) {
        this.f = r.facts;
        this.client = r.t.direction == RequestTelemetry.Direction.OUTBOUND;
        this.method = r.method;
        this.path = r.path;
        this.decision = r.decision;
        this.rule = r.rule;
        this.peer = r.peer;
        this.upstream = r.upstream;
        this.circuit = r.circuit;
        this.retries = r.retries;
        this.status = status;
        this.reason = reason;
        this.latencyNanos = latencyNanos;
        // Made here, on the request's thread: the span processors ask whether it is sampled as it ends.
        this.context = f.direct == null ? SpanContext.getInvalid()
                : SpanContext.create(TraceParent.traceId(r.traceHi, r.traceLo), TraceParent.spanId(r.spanIdBits),
                TraceFlags.fromByte((byte) r.traceFlags), TraceState.getDefault());
    }

    /** The span's name: the method and a template of the path (no per-request values). */
    @Override
    public String getName() {
        return method + " " + PathTemplate.of(path);
    }

    /**
     * The span's attributes: the stable HTTP semantic conventions and Ward's own (see
     * {@link RequestRecord}); the facts never learnt (a local reply has no upstream) are left out.
     */
    @Override
    public Attributes getAttributes() {
        AttributesBuilder b = Attributes.builder();
        b.put(HttpAttributes.HTTP_REQUEST_METHOD, method);
        b.put(UrlAttributes.URL_PATH, path);
        if (f.serverHost != null) {
            b.put(ServerAttributes.SERVER_ADDRESS, f.serverHost);
        }
        if (f.serverPort > 0) {
            b.put(ServerAttributes.SERVER_PORT, (long) f.serverPort);
        }
        if (f.peerAddress != null) {
            b.put(NetworkAttributes.NETWORK_PEER_ADDRESS, f.peerAddress);
        }
        if (f.peerPort > 0) {
            b.put(NetworkAttributes.NETWORK_PEER_PORT, (long) f.peerPort);
        }
        if (f.protocolVersion != null) {
            b.put(NetworkAttributes.NETWORK_PROTOCOL_VERSION, f.protocolVersion);
        }
        if (decision != null) {
            b.put(RequestRecord.AUTHZ_DECISION, decision);
        }
        if (rule != null) {
            b.put(RequestRecord.AUTHZ_RULE, rule);
        }
        if (status > 0) {
            b.put(HttpAttributes.HTTP_RESPONSE_STATUS_CODE, (long) status);
        }
        if (peer != null) {
            b.put(RequestRecord.PEER_IDENTITY, peer.toString());
        }
        if (upstream != null) {
            b.put(RequestRecord.UPSTREAM, upstream);
        }
        if (client) {
            b.put(RequestRecord.RETRIES, (long) retries);
            if (retries > 0) {
                b.put(HttpAttributes.HTTP_REQUEST_RESEND_COUNT, (long) retries);
            }
            if (circuit != null) {
                b.put(RequestRecord.CIRCUIT, circuit);
            }
        }
        String why = reason != null ? reason : f.authzReason;
        if (why != null) {
            b.put(RequestRecord.REASON, why);
        }
        if (error()) {
            b.put(ErrorAttributes.ERROR_TYPE, reason != null ? reason : Integer.toString(status));
        }
        return b.build();
    }

    /**
     * A failure: Ward answered or cut the request for a reason (other than a deny it only audited),
     * or the status says the server failed (or, for a client span, that the call did).
     */
    private boolean error() {
        return reason != null && !"audit_deny".equals(decision) || status >= 500 || (client && status >= 400);
    }

    StatusData statusData() {
        return error() ? StatusData.create(StatusCode.ERROR, reason != null ? reason : "HTTP " + status) : StatusData.unset();
    }

    /** Ends a span the SDK started for this request, with this name, attributes and status. */
    void endSdkSpan(Span span) {
        span.updateName(getName());
        span.setAllAttributes(getAttributes());
        if (error()) {
            StatusData s = statusData();
            span.setStatus(s.getStatusCode(), s.getDescription());
        }
        span.end();
    }

    /** The event a retry adds to a span: {@code ward.retry}, with the count and what failed. */
    static Attributes retryAttributes(int retries, String failure) {
        return Attributes.of(RequestRecord.RETRIES, (long) retries, RETRY_FAILURE, failure == null ? "status" : failure);
    }

    // ReadableSpan, for a span recorded without the SDK.

    @Override
    public SpanContext getSpanContext() {
        return context;
    }

    @Override
    public SpanContext getParentSpanContext() {
        return f.parentSpanId == 0 ? SpanContext.getInvalid()
                : SpanContext.createFromRemoteParent(context.getTraceId(), TraceParent.spanId(f.parentSpanId),
                TraceFlags.fromByte((byte) f.parentFlags), TraceState.getDefault());
    }

    @Override
    public SpanData toSpanData() {
        return new Data(this);
    }

    @Override
    @SuppressWarnings("deprecation")
    public InstrumentationLibraryInfo getInstrumentationLibraryInfo() {
        return f.direct.library();
    }

    @Override
    public InstrumentationScopeInfo getInstrumentationScopeInfo() {
        return f.direct.scope();
    }

    @Override
    public boolean hasEnded() {
        return true;
    }

    @Override
    public long getLatencyNanos() {
        return latencyNanos;
    }

    @Override
    public SpanKind getKind() {
        return client ? SpanKind.CLIENT : SpanKind.SERVER;
    }

    @Override
    public <T> T getAttribute(AttributeKey<T> key) {
        return getAttributes().get(key);
    }

    /** What the exporters read: made once, on the batch processor's thread. */
    private static final class Data implements SpanData {
        private final String name;
        private final SpanKind kind;
        private final SpanContext context;
        private final SpanContext parent;
        private final StatusData status;
        private final long start;
        private final long end;
        private final Attributes attributes;
        private final List<EventData> events;
        private final DirectSpans sink;

        Data(RecordedSpan s) {
            this.sink = s.f.direct;
            this.name = s.getName();
            this.kind = s.getKind();
            this.context = s.context;
            this.parent = s.getParentSpanContext();
            this.status = s.statusData();
            this.start = s.f.startEpochNanos;
            this.end = s.f.startEpochNanos + s.latencyNanos;
            this.attributes = s.getAttributes();
            List<EventData> ev = new ArrayList<>();
            if (s.f.retryEvents != null) {
                for (Retry r : s.f.retryEvents) {
                    ev.add(EventData.create(r.epochNanos(), "ward.retry", retryAttributes(r.retries(), r.failure())));
                }
            }
            this.events = List.copyOf(ev);
        }

        @Override
        public String getName() {
            return name;
        }

        @Override
        public SpanKind getKind() {
            return kind;
        }

        @Override
        public SpanContext getSpanContext() {
            return context;
        }

        @Override
        public SpanContext getParentSpanContext() {
            return parent;
        }

        @Override
        public StatusData getStatus() {
            return status;
        }

        @Override
        public long getStartEpochNanos() {
            return start;
        }

        @Override
        public Attributes getAttributes() {
            return attributes;
        }

        @Override
        public List<EventData> getEvents() {
            return events;
        }

        @Override
        public List<LinkData> getLinks() {
            return List.of();
        }

        @Override
        public long getEndEpochNanos() {
            return end;
        }

        @Override
        public boolean hasEnded() {
            return true;
        }

        @Override
        public int getTotalRecordedEvents() {
            return events.size();
        }

        @Override
        public int getTotalRecordedLinks() {
            return 0;
        }

        @Override
        public int getTotalAttributeCount() {
            return attributes.size();
        }

        @Override
        @SuppressWarnings("deprecation")
        public InstrumentationLibraryInfo getInstrumentationLibraryInfo() {
            return sink.library();
        }

        @Override
        public InstrumentationScopeInfo getInstrumentationScopeInfo() {
            return sink.scope();
        }

        @Override
        public Resource getResource() {
            return sink.resource();
        }

        @Override
        public String toString() {
            return "SpanData{" + name + ", " + context + ", parent " + parent.getSpanId() + ", " + attributes + "}";
        }
    }
}
