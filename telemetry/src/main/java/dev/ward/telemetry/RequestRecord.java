package dev.ward.telemetry;

import dev.ward.telemetry.metrics.WardMetrics;
import dev.ward.telemetry.tracing.DirectSpans;
import dev.ward.telemetry.tracing.TraceParent;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapSetter;
import java.util.ArrayList;
import java.util.List;

/**
 * What telemetry knows of one request, from its head to its end: its span (if traced), the facts
 * the proxy learns on the way (peer, authorization, upstream, addresses, retries) and, at
 * {@link #end}, its outcome, which becomes the span's status and attributes, one metric
 * observation and, if the access log wants it, one line. Confined to the request's event loop.
 *
 * <p>Span attributes follow the stable HTTP semantic conventions ({@code http.request.method},
 * {@code url.path}, {@code http.response.status_code}, {@code server.address},
 * {@code server.port}, {@code network.peer.address}, {@code error.type}), plus Ward's:
 * {@code ward.peer.identity}, {@code ward.authz.decision}, {@code ward.authz.rule},
 * {@code ward.reason}, {@code ward.upstream}, {@code ward.circuit_breaker.state},
 * {@code ward.retries}. A span that records (is sampled) gets them, its name and its status when
 * it ends, from the facts gathered here ({@link RecordedSpan}), whether the SDK started it or it
 * was recorded without the SDK ({@link DirectSpans}).
 */
public final class RequestRecord {

    public static final AttributeKey<String> PEER_IDENTITY = AttributeKey.stringKey("ward.peer.identity");
    public static final AttributeKey<String> AUTHZ_DECISION = AttributeKey.stringKey("ward.authz.decision");
    public static final AttributeKey<String> AUTHZ_RULE = AttributeKey.stringKey("ward.authz.rule");
    public static final AttributeKey<String> REASON = AttributeKey.stringKey("ward.reason");
    public static final AttributeKey<String> UPSTREAM = AttributeKey.stringKey("ward.upstream");
    public static final AttributeKey<String> CIRCUIT = AttributeKey.stringKey("ward.circuit_breaker.state");
    public static final AttributeKey<Long> RETRIES = AttributeKey.longKey("ward.retries");
    final RequestTelemetry t;
    final String method;
    String path;
    private final long start = System.nanoTime();
    /** Whether this request's span records (is sampled), by the SDK or directly ({@link DirectSpans}). */
    private boolean recording;
    /**
     * The context of a span the SDK started (the SDK's way: other samplers or propagators, a
     * caller's tracestate), which holds the span ({@link #sdkSpan}); null for the others. Not a
     * field of its own: one reference fewer keeps every request's record at 120 bytes, not 128.
     */
    private Context context;
    CharSequence incomingTraceparent;
    /** This hop's trace context is the fields below, with no span object: not sampled, or recorded directly. */
    private boolean carried;
    /** Not sampled, and the caller's traceparent ({@link #incomingTraceparent}) goes on unchanged. */
    private boolean passedOn;
    long traceHi;
    long traceLo;
    long spanIdBits;
    int traceFlags;
    /** What only a span that records needs (null for the others, which are most: not on every request's heap). */
    SpanFacts facts;
    private WardMetrics.Target target;
    Object peer;
    String decision;
    String rule;
    String upstream;
    String circuit;
    int retries;
    private long bytesIn;
    private long bytesOut;
    private boolean ended;

    RequestRecord(RequestTelemetry t, String method, String path) {
        this.t = t;
        this.method = method;
        this.path = path;
    }

    void startSpan(Context parent) {
        SpanKind kind = t.direction == RequestTelemetry.Direction.INBOUND ? SpanKind.SERVER : SpanKind.CLIENT;
        // Named by the method alone until it ends: an unsampled span's name is never seen, so no string is built for it.
        Span span = t.tracer.spanBuilder(method).setParent(parent).setSpanKind(kind).startSpan();
        context = parent.with(span);
        recording = span.isRecording();
        if (recording) {
            facts = new SpanFacts();
        }
    }

    /** The facts a span that records is made of, besides those the access log needs too. */
    static final class SpanFacts {
        /** Recorded without the SDK: where the span goes when the request ends; null for an SDK span. */
        DirectSpans direct;
        /** The caller's span id (0 for a root) and trace flags, for a span recorded directly. */
        long parentSpanId;
        int parentFlags;
        long startEpochNanos;
        List<RecordedSpan.Retry> retryEvents;
        String authzReason;
        String serverHost;
        int serverPort;
        String peerAddress;
        int peerPort;
        String protocolVersion;
    }

    /**
     * Sampled, recorded without the SDK ({@link DirectSpans}): this hop's span is a child of the
     * caller's ({@code parentSpanId} with its {@code parentFlags}; 0 for a new root) in trace
     * {@code traceHi traceLo}, with a new span id and {@code flags} (sampled, and the
     * random-trace-id bit as the SDK would set it).
     */
    void startDirect(DirectSpans spans, long traceHi, long traceLo, long parentSpanId, int parentFlags, int flags) {
        this.carried = true;
        this.recording = true;
        this.traceHi = traceHi;
        this.traceLo = traceLo;
        this.traceFlags = flags;
        this.spanIdBits = TraceParent.randomId();
        SpanFacts f = new SpanFacts();
        f.direct = spans;
        f.parentSpanId = parentSpanId;
        f.parentFlags = parentFlags;
        f.startEpochNanos = spans.now();
        this.facts = f;
    }

    /**
     * Not sampled: this hop's trace context is the trace id (the caller's, or a new one), a new
     * span id and the flags the SDK would give an unsampled span ({@code flags}: the random-trace-id
     * bit, from the caller or set for a new id).
     */
    void unsampled(long traceHi, long traceLo, int flags) {
        this.carried = true;
        this.traceHi = traceHi;
        this.traceLo = traceLo;
        this.traceFlags = flags;
        this.spanIdBits = TraceParent.randomId();
    }

    /**
     * Not sampled, and the caller's {@code traceparent} goes on as it came ({@link TraceParent#passesAsIs}):
     * nothing to write, no new span id. The trace id and the caller's span id are read from it when a
     * log line asks for them ({@link #traceId}, {@link #spanId}).
     */
    void passOn(CharSequence traceparent) {
        this.incomingTraceparent = traceparent;
        this.passedOn = true;
    }

    /** Writes this hop's trace context into the request that goes on (no-op with tracing off). */
    public <C> void inject(C carrier, TextMapSetter<C> setter) {
        if (context != null) {
            t.propagator.inject(context, carrier, setter);
        } else if (carried) {
            // What the W3C propagator writes for this hop's span; tracestate and baggage, which it
            // would copy from the caller's, go on as the caller sent them.
            if (setter instanceof TraceParent.BytesSetter<C> bytes) {
                bytes.setLatin1(carrier, TraceParent.HEADER, TraceParent.formatBytes(traceHi, traceLo, spanIdBits, traceFlags));
            } else {
                setter.set(carrier, TraceParent.HEADER, TraceParent.format(traceHi, traceLo, spanIdBits, traceFlags));
            }
        }
    }

    /** The trace id: this hop's span's, or with tracing off the caller's {@code traceparent}'s; null if none. */
    public String traceId() {
        if (context != null) {
            return sdkSpan().getSpanContext().getTraceId();
        }
        if (carried) {
            return TraceParent.traceId(traceHi, traceLo);
        }
        return AuditLog.traceId(incomingTraceparent);
    }

    /**
     * This hop's span id, or null with tracing off. For a request whose unsampled context went on as
     * it came ({@link #passOn}) it is the caller's span id: the parent id the next hop sees.
     */
    public String spanId() {
        if (context != null) {
            return sdkSpan().getSpanContext().getSpanId();
        }
        if (passedOn) {
            return TraceParent.spanId(TraceParent.parentSpanId(incomingTraceparent));
        }
        return carried ? TraceParent.spanId(spanIdBits) : null;
    }

    public boolean recording() {
        return recording;
    }

    /** The span the SDK started, held by {@link #context}; only when that is not null. */
    private Span sdkSpan() {
        return Span.fromContext(context);
    }

    /** The metrics target (an upstream's, outbound); inbound requests have the service's already. */
    public void target(WardMetrics.Target target) {
        if (this.target == null) {
            target.started();
        }
        this.target = target;
    }

    /** The caller's SPIFFE id (inbound) or the upstream's verified one (outbound); its toString is used, lazily. */
    public void peer(Object peer) {
        this.peer = peer;
    }

    /** The authorization decision ({@code allow}, {@code deny}, {@code audit_deny}), the matched rule and reason code. */
    public void authz(String decision, String rule, String reason) {
        this.decision = decision;
        this.rule = rule;
        if (facts != null) {
            facts.authzReason = reason;
        }
        t.metrics.authz(decision, rule, reason);
    }

    /** Where the request goes: an upstream's name (outbound, which also picks its metrics), or {@code app}. */
    public void upstream(String name) {
        this.upstream = name;
        if (t.direction == RequestTelemetry.Direction.OUTBOUND) {
            target(t.metrics.outbound(name));
        }
    }

    /** The path as routed (normalized inbound, origin-form outbound), which may differ from the one it arrived with. */
    public void path(String routed) {
        this.path = routed;
    }

    /** Where the request is served: the {@code Host} (or :authority) and the port it was addressed to. */
    public void server(String host, int port) {
        SpanFacts f = facts;
        if (f == null) {
            return; // only a span that records has these
        }
        if (host != null) {
            f.serverHost = host;
        }
        if (port > 0) {
            f.serverPort = port;
        }
    }

    /** The other end of the connection: the caller (inbound) or the upstream endpoint (outbound). */
    public void networkPeer(String ip, int port, String protocolVersion) {
        SpanFacts f = facts;
        if (f == null) {
            return;
        }
        if (ip != null) {
            f.peerAddress = ip;
        }
        if (port > 0) {
            f.peerPort = port;
        }
        if (protocolVersion != null) {
            f.protocolVersion = protocolVersion;
        }
    }

    /** The request is being sent again ({@code retries} so far) after {@code failure}. */
    public void retrying(int retries, String failure) {
        this.retries = retries;
        if (context != null && recording) {
            sdkSpan().addEvent("ward.retry", RecordedSpan.retryAttributes(retries, failure));
        } else if (facts != null) {
            SpanFacts f = facts;
            if (f.retryEvents == null) {
                f.retryEvents = new ArrayList<>(2);
            }
            f.retryEvents.add(new RecordedSpan.Retry(f.startEpochNanos + (System.nanoTime() - start), retries, failure));
        }
    }

    public void circuit(String state) {
        this.circuit = state;
    }

    /** Body bytes received from the caller ({@code in}) and sent back to it ({@code out}). */
    public void bytes(long in, long out) {
        this.bytesIn = in;
        this.bytesOut = out;
    }

    /** {@code n} more body bytes received from the caller. */
    public void addBytesIn(long n) {
        bytesIn += n;
    }

    /** {@code n} more body bytes sent back to the caller. */
    public void addBytesOut(long n) {
        bytesOut += n;
    }

    /** The request's method, as {@link RequestTelemetry#begin} was given it. */
    public String method() {
        return method;
    }

    /** The request's path: as it arrived, or as routed once {@link #path(String)} said so. */
    public String path() {
        return path;
    }

    /**
     * The request is over: {@code status} was sent (or 499 when the caller left first);
     * {@code reason} is Ward's reason code when Ward answered or cut the exchange, else null.
     * Only the first call counts.
     */
    public void end(int status, String reason) {
        if (ended) {
            return;
        }
        ended = true;
        long nanos = System.nanoTime() - start;
        WardMetrics.Target tg = target != null ? target : t.unrouted;
        if (tg != null) {
            if (target == null) {
                tg.started();
            }
            tg.ended(method, status, nanos);
        }
        if (recording) { // a span that does not record has nothing to end
            RecordedSpan s = new RecordedSpan(this, status, reason, nanos);
            DirectSpans direct = facts.direct;
            facts = null; // the span is over: later calls on this record leave it alone
            if (direct != null) {
                direct.end(s);
            } else {
                s.endSdkSpan(sdkSpan());
            }
        }
        AccessLog a = t.access;
        if (a != null && a.wants(status, reason)) {
            a.record(new AccessLog.Entry(t.direction.label(), peer == null ? null : peer.toString(), method, path, status,
                    nanos, upstream, reason, rule, bytesIn, bytesOut, traceId(), spanId()));
        }
    }
}
