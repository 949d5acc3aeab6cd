package dev.ward.telemetry;

import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Clock;
import java.util.Objects;

/**
 * One JSON line per finished request: time, direction, peer identity, method, path (never the
 * query string, which may carry secrets), status, duration, upstream, and Ward's reason code
 * when Ward answered itself. {@link Mode#ERRORS} keeps only statuses of 400 and above and local
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

    /** Writes one line if {@link #wants} says so. {@code peer}, {@code upstream}, {@code reason} may be null. */
    public void record(String direction, String peer, String method, String path, int status, long nanos,
                       String upstream, String reason) {
        record(direction, peer, method, path, status, nanos, upstream, reason, null);
    }

    /** The same, with the policy rule that allowed the request ({@code rule}, may be null). */
    public void record(String direction, String peer, String method, String path, int status, long nanos,
                       String upstream, String reason, String rule) {
        if (!wants(status, reason)) {
            return;
        }
        out.write(g -> fields(g, direction, peer, method, path, status, nanos, upstream, reason, rule));
    }

    private void fields(JsonGenerator g, String direction, String peer, String method, String path, int status, long nanos,
                        String upstream, String reason, String rule) throws IOException {
        g.writeStringField("time", clock.instant().toString());
        g.writeStringField("direction", direction);
        if (peer != null) {
            g.writeStringField("peer", peer);
        }
        g.writeStringField("method", method);
        g.writeStringField("path", path);
        g.writeNumberField("status", status);
        g.writeNumberField("duration_ms", nanos / 1_000_000.0);
        if (upstream != null) {
            g.writeStringField("upstream", upstream);
        }
        if (reason != null) {
            g.writeStringField("reason", reason);
        }
        if (rule != null) {
            g.writeStringField("rule", rule);
        }
    }
}
