package dev.ward.telemetry;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * Lets one log line through per interval and counts the ones held back, so a failing peer
 * produces one warning every few seconds instead of one per request. Thread-safe, lock-free.
 */
public final class LogLimiter {

    private final long intervalNanos;
    private final LongSupplier nanoClock;
    private final AtomicLong nextAllowed;
    private final AtomicLong held = new AtomicLong();

    public LogLimiter(Duration interval) {
        this(interval, System::nanoTime);
    }

    LogLimiter(Duration interval, LongSupplier nanoClock) {
        this.intervalNanos = interval.toNanos();
        this.nanoClock = nanoClock;
        this.nextAllowed = new AtomicLong(nanoClock.getAsLong());
    }

    /**
     * -1: hold this line back (it is counted). Otherwise the line should be logged, and the result
     * is how many were held back since the last one that was.
     */
    public long tryLog() {
        long now = nanoClock.getAsLong();
        long next = nextAllowed.get();
        if (now - next >= 0 && nextAllowed.compareAndSet(next, now + intervalNanos)) {
            return held.getAndSet(0);
        }
        held.incrementAndGet();
        return -1;
    }

    /** " (N more like this since)" for a line that follows held-back ones, else "". */
    public static String heldBack(long n) {
        return n > 0 ? " (" + n + " more like this held back)" : "";
    }
}
