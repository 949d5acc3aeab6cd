package dev.ward.proxy.resilience;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RetryBudgetTest {

    final AtomicLong now = new AtomicLong(1_000_000_000_000L);

    int retriesAllowed(RetryBudget b, int max) {
        int n = 0;
        while (n < max && b.tryWithdraw()) {
            n++;
        }
        return n;
    }

    @Test
    void retriesAreARatioOfRequestsPlusAReserve() {
        RetryBudget b = new RetryBudget(0.2, 1, Duration.ofSeconds(10), now::get);
        for (int i = 0; i < 100; i++) {
            b.deposit();
        }
        assertThat(b.available()).isEqualTo(30);
        assertThat(retriesAllowed(b, 1000)).isEqualTo(30); // 20% of 100 + 1/s × 10 s
        assertThat(b.tryWithdraw()).isFalse();
    }

    @Test
    void withNoRequestsOnlyTheReserveIsThere() {
        RetryBudget b = new RetryBudget(0.2, 0, Duration.ofSeconds(10), now::get);
        assertThat(b.tryWithdraw()).isFalse();
        RetryBudget floor = new RetryBudget(0.2, 10, Duration.ofSeconds(10), now::get);
        assertThat(retriesAllowed(floor, 1000)).isEqualTo(100);
    }

    @Test
    void oldRequestsAndRetriesAgeOutWithTheWindow() {
        RetryBudget b = new RetryBudget(0.5, 0, Duration.ofSeconds(10), now::get);
        for (int i = 0; i < 10; i++) {
            b.deposit();
        }
        assertThat(retriesAllowed(b, 100)).isEqualTo(5);
        now.addAndGet(Duration.ofSeconds(11).toNanos());
        assertThat(b.tryWithdraw()).as("the deposits aged out too").isFalse();
        for (int i = 0; i < 4; i++) {
            b.deposit();
        }
        assertThat(retriesAllowed(b, 100)).as("spent retries aged out").isEqualTo(2);
    }
}
