package dev.ward.proxy.upstream;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiConsumer;

/**
 * A resilience4j breaker whose state changes are reported by looking at its state after each call
 * that can change it, rather than through its event publisher. Any consumer on the publisher (even
 * one for state transitions only) makes resilience4j build and dispatch an event, with a
 * {@code ZonedDateTime}, for every call it records: about 1% of an outbound event loop, on every
 * request. The calls below are the only ones Ward makes, so no transition goes unseen; two that
 * happen between one look and the next (another thread's call in between) are reported as one
 * change, from the state seen before to the state seen after.
 */
final class WatchedBreaker {
    final CircuitBreaker cb;
    private final AtomicReference<CircuitBreaker.State> seen;
    private final BiConsumer<CircuitBreaker.State, CircuitBreaker.State> onChange;

    WatchedBreaker(CircuitBreaker cb, BiConsumer<CircuitBreaker.State, CircuitBreaker.State> onChange) {
        this.cb = cb;
        this.seen = new AtomicReference<>(cb.getState());
        this.onChange = onChange;
    }

    boolean tryAcquirePermission() {
        boolean ok = cb.tryAcquirePermission(); // open -> half-open happens here, once the wait is over
        look();
        return ok;
    }

    void onSuccess(long duration, TimeUnit unit) {
        cb.onSuccess(duration, unit);
        look();
    }

    void onError(long duration, TimeUnit unit, Throwable error) {
        cb.onError(duration, unit, error);
        look();
    }

    void releasePermission() {
        cb.releasePermission(); // changes no state
    }

    CircuitBreaker.State state() {
        return cb.getState();
    }

    CircuitBreaker.Metrics metrics() {
        return cb.getMetrics();
    }

    private void look() {
        CircuitBreaker.State now = cb.getState();
        CircuitBreaker.State was = seen.get();
        if (now != was && seen.compareAndSet(was, now)) {
            onChange.accept(was, now);
        }
    }
}
