package dev.ward.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class AccessLogTest {

    private final Clock clock = Clock.fixed(Instant.parse("2026-01-02T03:04:05Z"), ZoneOffset.UTC);

    @Test
    void writesOneEscapedJsonLinePerRequest() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        AccessLog log = new AccessLog(AccessLog.Mode.ALL, out, clock);
        log.record(new AccessLog.Entry("inbound", "spiffe://td/ns/a/sa/b", "GET", "/x\"y", 200, 1_500_000, "app", null, null,
                0, 12, "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"));
        assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo(
                "{\"time\":\"2026-01-02T03:04:05Z\",\"direction\":\"inbound\",\"peer\":\"spiffe://td/ns/a/sa/b\","
                        + "\"method\":\"GET\",\"path\":\"/x\\\"y\",\"status\":200,\"duration_ms\":1.5,\"bytes_in\":0,\"bytes_out\":12,\"upstream\":\"app\","
                        + "\"trace_id\":\"0af7651916cd43dd8448eb211c80319c\",\"span_id\":\"b7ad6b7169203331\"}\n");
    }

    @Test
    void errorsModeKeepsFailuresAndLocalRepliesOnly() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        AccessLog log = new AccessLog(AccessLog.Mode.ERRORS, out, clock);
        log.record(entry("GET", "/ok", 200, "app", null));
        log.record(entry("GET", "/denied", 403, null, "identity_not_allowed"));
        log.record(entry("GET", "/fail", 502, "orders", null));
        assertThat(out.toString(StandardCharsets.UTF_8).lines())
                .hasSize(2)
                .allMatch(l -> l.contains("/denied") || l.contains("/fail"));
    }

    @Test
    void offLogsNothing() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        new AccessLog(AccessLog.Mode.OFF, out, clock).record(entry("GET", "/", 500, null, "x"));
        assertThat(out.size()).isZero();
    }

    private static AccessLog.Entry entry(String method, String path, int status, String upstream, String reason) {
        return new AccessLog.Entry("inbound", null, method, path, status, 0, upstream, reason, null, 0, 0, null, null);
    }
}
