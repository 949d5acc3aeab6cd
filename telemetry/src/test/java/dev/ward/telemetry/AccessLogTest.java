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
        log.record("inbound", "spiffe://td/ns/a/sa/b", "GET", "/x\"y", 200, 1_500_000, "app", null);
        assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo(
                "{\"time\":\"2026-01-02T03:04:05Z\",\"direction\":\"inbound\",\"peer\":\"spiffe://td/ns/a/sa/b\","
                        + "\"method\":\"GET\",\"path\":\"/x\\\"y\",\"status\":200,\"duration_ms\":1.5,\"upstream\":\"app\"}\n");
    }

    @Test
    void errorsModeKeepsFailuresAndLocalRepliesOnly() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        AccessLog log = new AccessLog(AccessLog.Mode.ERRORS, out, clock);
        log.record("inbound", null, "GET", "/ok", 200, 0, "app", null);
        log.record("inbound", null, "GET", "/denied", 403, 0, null, "identity_not_allowed");
        log.record("outbound", null, "GET", "/fail", 502, 0, "orders", null);
        assertThat(out.toString(StandardCharsets.UTF_8).lines())
                .hasSize(2)
                .allMatch(l -> l.contains("/denied") || l.contains("/fail"));
    }

    @Test
    void offLogsNothing() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        new AccessLog(AccessLog.Mode.OFF, out, clock).record("inbound", null, "GET", "/", 500, 0, null, "x");
        assertThat(out.size()).isZero();
    }
}
