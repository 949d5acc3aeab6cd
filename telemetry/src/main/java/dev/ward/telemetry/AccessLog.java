package dev.ward.telemetry;

import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Clock;
import java.util.Objects;

/**
 * One JSON line per finished request: time, direction, peer identity, method, path (never the
 * query string, which may carry secrets), status, duration, body bytes each way, upstream,
 * Ward's reason code when Ward answered itself, and the trace and span ids that find the
 * request's trace. {@link Mode#ERRORS} keeps only statuses of 400 and above and local
 * replies. Never logs headers, tokens or bodies. Thread-safe; a write failure is swallowed so
 * logging can never fail a request.
 */
public final class AccessLog {

    /** Which requests are logged. */
    public enum Mode { OFF, ERRORS, ALL }

    private final Mode mode;
    private final JsonLines out;
    private final Clock clock;

    public AccessLog(Mode mode, OutputStream out, Clock clock) {
        this.mode = Objects.requireNonNull(mode, "mode");
        this.out = new JsonLines(out);
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /** True if a request with this outcome is logged in this mode. */
    public boolean wants(int status, String reason) {
        return switch (mode) {
            case OFF -> false;
            case ALL -> true;
            case ERRORS -> status >= 400 || reason != null;
        };
    }

    /**
     * One finished request. {@code peer}, {@code upstream}, {@code reason}, {@code rule},
     * {@code traceId}, {@code spanId} may be null; {@code reason} is Ward's reason code when Ward
     * answered itself; {@code rule} the policy rule that allowed it; bytes are body bytes received
     * from and sent to the caller.
     */
    public record Entry(String direction, String peer, String method, String path, int status, long nanos,
                        String upstream, String reason, String rule, long bytesIn, long bytesOut,
                        String traceId, String spanId) {}

    /** Writes one line if {@link #wants} says so. */
    public void record(Entry e) {
        if (!wants(e.status(), e.reason())) {
            return;
        }
        out.write(g -> fields(g, e));
    }

    private void fields(JsonGenerator g, Entry e) throws IOException {
        g.writeStringField("time", clock.instant().toString());
        g.writeStringField("direction", e.direction());
        if (e.peer() != null) {
            g.writeStringField("peer", e.peer());
        }
        g.writeStringField("method", e.method());
        g.writeStringField("path", e.path());
        g.writeNumberField("status", e.status());
        g.writeNumberField("duration_ms", e.nanos() / 1_000_000.0);
        g.writeNumberField("bytes_in", e.bytesIn());
        g.writeNumberField("bytes_out", e.bytesOut());
        if (e.upstream() != null) {
            g.writeStringField("upstream", e.upstream());
        }
        if (e.reason() != null) {
            g.writeStringField("reason", e.reason());
        }
        if (e.rule() != null) {
            g.writeStringField("rule", e.rule());
        }
        if (e.traceId() != null) {
            g.writeStringField("trace_id", e.traceId());
        }
        if (e.spanId() != null) {
            g.writeStringField("span_id", e.spanId());
        }
    }
}
