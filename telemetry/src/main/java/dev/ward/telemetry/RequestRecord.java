package dev.ward.telemetry;

import dev.ward.telemetry.metrics.WardMetrics;
import dev.ward.telemetry.tracing.PathTemplate;
import dev.ward.telemetry.tracing.TraceParent;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapSetter;
import io.opentelemetry.semconv.ErrorAttributes;
import io.opentelemetry.semconv.HttpAttributes;
import io.opentelemetry.semconv.NetworkAttributes;
import io.opentelemetry.semconv.ServerAttributes;
import io.opentelemetry.semconv.UrlAttributes;

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
 * {@code ward.retries}. Attributes are set only on a span that records (is sampled).
 */
public final class RequestRecord {

    public static final AttributeKey<String> PEER_IDENTITY = AttributeKey.stringKey("ward.peer.identity");
    public static final AttributeKey<String> AUTHZ_DECISION = AttributeKey.stringKey("ward.authz.decision");
    public static final AttributeKey<String> AUTHZ_RULE = AttributeKey.stringKey("ward.authz.rule");
    public static final AttributeKey<String> REASON = AttributeKey.stringKey("ward.reason");
    public static final AttributeKey<String> UPSTREAM = AttributeKey.stringKey("ward.upstream");
    public static final AttributeKey<String> CIRCUIT = AttributeKey.stringKey("ward.circuit_breaker.state");
    public static final AttributeKey<Long> RETRIES = AttributeKey.longKey("ward.retries");
    private static final AttributeKey<String> RETRY_FAILURE = AttributeKey.stringKey("ward.retry.after");

    private final RequestTelemetry t;
    private final String method;
    private String path;
    private final long start = System.nanoTime();
    private Span span;
    /** Whether {@link #span} records: read once, so an unsampled request never calls into the span again. */
    private boolean recording;
    private Context context;
    CharSequence incomingTraceparent;
    /** Not sampled, decided without the SDK: this hop's trace context, with no span object. */
    private boolean unsampled;
    private long traceHi;
    private long traceLo;
    private long spanIdBits;
    private int traceFlags;
    private WardMetrics.Target target;
    private Object peer;
    private String decision;
    private String rule;
    private String upstream;
    private String circuit;
    private int retries;
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
        // Named by the method alone until sampled: an unsampled span's name is never seen, so no string is built for it.
        span = t.tracer.spanBuilder(method).setParent(parent).setSpanKind(kind).startSpan();
        context = parent.with(span);
        recording = span.isRecording();
        if (recording) {
            span.updateName(method + " " + PathTemplate.of(path));
            span.setAttribute(HttpAttributes.HTTP_REQUEST_METHOD, method);
            span.setAttribute(UrlAttributes.URL_PATH, path);
        }
    }

    /**
     * Not sampled: this hop's trace context is the trace id (the caller's, or a new one), a new
     * span id and the flags the SDK would give an unsampled span ({@code flags}: the random-trace-id
     * bit, from the caller or set for a new id).
     */
    void unsampled(long traceHi, long traceLo, int flags) {
        this.unsampled = true;
        this.traceHi = traceHi;
        this.traceLo = traceLo;
        this.traceFlags = flags;
        this.spanIdBits = TraceParent.randomId();
    }

    /** Writes this hop's trace context into the request that goes on (no-op with tracing off). */
    public <C> void inject(C carrier, TextMapSetter<C> setter) {
        if (span != null) {
            t.propagator.inject(context, carrier, setter);
        } else if (unsampled) {
            // What the W3C propagator writes for an unsampled span; tracestate and baggage, which
            // it would copy from the caller's, go on as the caller sent them.
            if (setter instanceof TraceParent.BytesSetter<C> bytes) {
                bytes.setLatin1(carrier, TraceParent.HEADER, TraceParent.formatBytes(traceHi, traceLo, spanIdBits, traceFlags));
            } else {
                setter.set(carrier, TraceParent.HEADER, TraceParent.format(traceHi, traceLo, spanIdBits, traceFlags));
            }
        }
    }

    /** The trace id: this hop's span's, or with tracing off the caller's {@code traceparent}'s; null if none. */
    public String traceId() {
        if (span != null) {
            return span.getSpanContext().getTraceId();
        }
        if (unsampled) {
            return TraceParent.traceId(traceHi, traceLo);
        }
        return AuditLog.traceId(incomingTraceparent);
    }

    /** This hop's span id, or null with tracing off. */
    public String spanId() {
        if (span != null) {
            return span.getSpanContext().getSpanId();
        }
        return unsampled ? TraceParent.spanId(spanIdBits) : null;
    }

    public boolean recording() {
        return recording;
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
        if (recording) {
            span.setAttribute(AUTHZ_DECISION, decision);
            if (rule != null) {
                span.setAttribute(AUTHZ_RULE, rule);
            }
            if (reason != null) {
                span.setAttribute(REASON, reason);
            }
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

    /** The path as routed (normalized inbound, origin-form outbound), when it differs from the one it arrived with. */
    public void path(String routed) {
        if (routed.equals(path)) {
            return;
        }
        this.path = routed;
        if (recording) {
            span.setAttribute(UrlAttributes.URL_PATH, routed);
            span.updateName(method + " " + PathTemplate.of(routed));
        }
    }

    /** Where the request is served: the {@code Host} (or :authority) and the port it was addressed to. */
    public void server(String host, int port) {
        if (recording) {
            if (host != null) {
                span.setAttribute(ServerAttributes.SERVER_ADDRESS, host);
            }
            if (port > 0) {
                span.setAttribute(ServerAttributes.SERVER_PORT, (long) port);
            }
        }
    }

    /** The other end of the connection: the caller (inbound) or the upstream endpoint (outbound). */
    public void networkPeer(String ip, int port, String protocolVersion) {
        if (recording) {
            if (ip != null) {
                span.setAttribute(NetworkAttributes.NETWORK_PEER_ADDRESS, ip);
            }
            if (port > 0) {
                span.setAttribute(NetworkAttributes.NETWORK_PEER_PORT, (long) port);
            }
            if (protocolVersion != null) {
                span.setAttribute(NetworkAttributes.NETWORK_PROTOCOL_VERSION, protocolVersion);
            }
        }
    }

    /** The request is being sent again ({@code retries} so far) after {@code failure}. */
    public void retrying(int retries, String failure) {
        this.retries = retries;
        if (recording) {
            span.addEvent("ward.retry", Attributes.of(RETRIES, (long) retries, RETRY_FAILURE, failure == null ? "status" : failure));
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
            endSpan(status, reason);
        }
        AccessLog a = t.access;
        if (a != null && a.wants(status, reason)) {
            a.record(new AccessLog.Entry(t.direction.label(), peer == null ? null : peer.toString(), method, path, status,
                    nanos, upstream, reason, rule, bytesIn, bytesOut, traceId(), spanId()));
        }
    }

    private void endSpan(int status, String reason) {
        boolean client = t.direction == RequestTelemetry.Direction.OUTBOUND;
        if (status > 0) {
            span.setAttribute(HttpAttributes.HTTP_RESPONSE_STATUS_CODE, (long) status);
        }
        if (peer != null) {
            span.setAttribute(PEER_IDENTITY, peer.toString());
        }
        if (upstream != null) {
            span.setAttribute(UPSTREAM, upstream);
        }
        if (client) {
            span.setAttribute(RETRIES, (long) retries);
            if (retries > 0) {
                span.setAttribute(HttpAttributes.HTTP_REQUEST_RESEND_COUNT, (long) retries);
            }
            if (circuit != null) {
                span.setAttribute(CIRCUIT, circuit);
            }
        }
        boolean error = reason != null && !"audit_deny".equals(decision) || status >= 500 || (client && status >= 400);
        if (reason != null) {
            span.setAttribute(REASON, reason);
        }
        if (error) {
            String type = reason != null ? reason : Integer.toString(status);
            span.setAttribute(ErrorAttributes.ERROR_TYPE, type);
            span.setStatus(StatusCode.ERROR, reason != null ? reason : "HTTP " + status);
        }
        span.end();
    }
}
