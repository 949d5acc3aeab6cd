package dev.ward.telemetry;

import dev.ward.telemetry.tracing.TraceParent;
import java.io.OutputStream;
import java.time.Clock;
import java.util.Objects;

/**
 * The audit log: one JSON line per authorization deny (and per deny that audit mode let
 * through) and per policy change. Always on, separate from the access log ({@code "log":"audit"}).
 * Never contains tokens, cookies or bodies. A write failure is swallowed: auditing can never fail
 * a request, and the deny itself still happens.
 */
public final class AuditLog {

    private final JsonLines out;
    private final Clock clock;

    public AuditLog(OutputStream out, Clock clock) {
        this.out = new JsonLines(out);
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /**
     * Records a decision that denied (or, with {@code enforced} false, would have denied).
     * {@code peer} may be null.
     */
    public void deny(boolean enforced, String service, String policyVersion, String peer, String method, String path,
                     String rule, String reason) {
        deny(enforced, service, policyVersion, peer, method, path, rule, reason, null, null, null);
    }

    /**
     * The same, with the verified token's {@code sub} and {@code iss} (never the token itself) and
     * the W3C trace id of the request; each may be null.
     */
    public void deny(boolean enforced, String service, String policyVersion, String peer, String method, String path,
                     String rule, String reason, String tokenSubject, String tokenIssuer, String traceId) {
        write(g -> {
            g.writeStringField("event", enforced ? "deny" : "audit_would_deny");
            g.writeStringField("service", service);
            if (policyVersion != null) {
                g.writeStringField("policy_version", policyVersion);
            }
            if (peer != null) {
                g.writeStringField("peer", peer);
            }
            g.writeStringField("method", method);
            g.writeStringField("path", path);
            g.writeStringField("rule", rule);
            g.writeStringField("reason", reason);
            if (tokenSubject != null) {
                g.writeStringField("token_sub", tokenSubject);
            }
            if (tokenIssuer != null) {
                g.writeStringField("token_iss", tokenIssuer);
            }
            if (traceId != null) {
                g.writeStringField("trace_id", traceId);
            }
        });
    }

    /** Records a policy change: {@code event} is {@code policy_loaded} or {@code policy_refused}. */
    public void policy(String event, String service, String version, String source, String detail) {
        write(g -> {
            g.writeStringField("event", event);
            if (service != null) {
                g.writeStringField("service", service);
            }
            if (version != null) {
                g.writeStringField("policy_version", version);
            }
            g.writeStringField("source", source);
            if (detail != null) {
                g.writeStringField("detail", detail);
            }
        });
    }

    /**
     * The trace id of a W3C {@code traceparent} header ({@code 00-<32 hex>-<16 hex>-<2 hex>}), or
     * null when absent or malformed (an invalid header is ignored, as the spec requires).
     */
    public static String traceId(CharSequence traceparent) {
        return TraceParent.flags(traceparent) == TraceParent.INVALID
                ? null : traceparent.subSequence(3, 35).toString();
    }

    private void write(JsonLines.Fields fields) {
        out.write(g -> {
            g.writeStringField("time", clock.instant().toString());
            g.writeStringField("log", "audit");
            fields.write(g);
        });
    }
}
