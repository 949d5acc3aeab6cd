package dev.ward.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class LogLimiterTest {

    @Test
    void oneLinePerIntervalAndTheHeldBackOnesAreCounted() {
        AtomicLong now = new AtomicLong(5_000_000_000L);
        LogLimiter l = new LogLimiter(Duration.ofSeconds(10), now::get);
        assertThat(l.tryLog()).isZero();
        for (int i = 0; i < 29; i++) {
            assertThat(l.tryLog()).isEqualTo(-1);
        }
        now.addAndGet(Duration.ofSeconds(9).toNanos());
        assertThat(l.tryLog()).isEqualTo(-1);
        now.addAndGet(Duration.ofSeconds(1).toNanos());
        assertThat(l.tryLog()).isEqualTo(30);
        assertThat(LogLimiter.heldBack(30)).isEqualTo(" (30 more like this held back)");
        assertThat(LogLimiter.heldBack(0)).isEmpty();
    }
}
