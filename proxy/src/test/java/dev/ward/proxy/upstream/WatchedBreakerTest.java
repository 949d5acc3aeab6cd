package dev.ward.proxy.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class WatchedBreakerTest {

    final List<String> changes = new ArrayList<>();

    WatchedBreaker breaker(Duration openFor) {
        CircuitBreaker cb = CircuitBreaker.of("t", CircuitBreakerConfig.custom()
                .slidingWindow(4, 4, CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                .failureRateThreshold(50)
                .waitDurationInOpenState(openFor)
                .permittedNumberOfCallsInHalfOpenState(1)
                .automaticTransitionFromOpenToHalfOpenEnabled(false)
                .build());
        return new WatchedBreaker(cb, (from, to) -> changes.add(from + "->" + to));
    }

    static final RuntimeException FAIL = new RuntimeException("x");

    @Test
    void everyTransitionOfTheCallsWardMakesIsReportedOnce() throws Exception {
        WatchedBreaker b = breaker(Duration.ofMillis(50));
        for (int i = 0; i < 3; i++) {
            assertThat(b.tryAcquirePermission()).isTrue();
            b.onError(1, TimeUnit.MILLISECONDS, FAIL);
        }
        assertThat(changes).isEmpty(); // 3 calls of a window of 4: not evaluated yet
        assertThat(b.tryAcquirePermission()).isTrue();
        b.onSuccess(1, TimeUnit.MILLISECONDS);
        assertThat(changes).containsExactly("CLOSED->OPEN");
        assertThat(b.tryAcquirePermission()).isFalse();
        assertThat(changes).hasSize(1);

        Thread.sleep(80); // past the open wait: the next permission request moves it to half-open
        assertThat(b.tryAcquirePermission()).isTrue();
        assertThat(changes).containsExactly("CLOSED->OPEN", "OPEN->HALF_OPEN");
        b.onSuccess(1, TimeUnit.MILLISECONDS);
        assertThat(changes).containsExactly("CLOSED->OPEN", "OPEN->HALF_OPEN", "HALF_OPEN->CLOSED");
        assertThat(b.state()).isEqualTo(CircuitBreaker.State.CLOSED);

        b.releasePermission();
        assertThat(changes).hasSize(3);
    }

    @Test
    void aFailedHalfOpenTrialReopens() throws Exception {
        WatchedBreaker b = breaker(Duration.ofMillis(20));
        for (int i = 0; i < 4; i++) {
            b.tryAcquirePermission();
            b.onError(1, TimeUnit.MILLISECONDS, FAIL);
        }
        Thread.sleep(50);
        assertThat(b.tryAcquirePermission()).isTrue();
        b.onError(1, TimeUnit.MILLISECONDS, FAIL);
        assertThat(changes).containsExactly("CLOSED->OPEN", "OPEN->HALF_OPEN", "HALF_OPEN->OPEN");
    }
}
