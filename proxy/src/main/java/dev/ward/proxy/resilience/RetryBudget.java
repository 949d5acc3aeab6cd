package dev.ward.proxy.resilience;

import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * How many retries an upstream may get: over the last {@code window}, at most {@code ratio} of
 * the requests plus {@code minPerSecond} per second of the window (linkerd's and Finagle's retry
 * budget). Under an outage every request fails, so retries add at most {@code ratio} to the load
 * instead of multiplying it by the number of attempts. Thread-safe; counts live in ten buckets
 * that age out with the window.
 */
public final class RetryBudget {

    private static final int BUCKETS = 10;

    private final double ratio;
    private final long reserve;
    private final long bucketNanos;
    private final LongSupplier nanoClock;
    private final long[] epochs = new long[BUCKETS];
    private final long[] deposits = new long[BUCKETS];
    private final long[] withdrawals = new long[BUCKETS];

    public RetryBudget(double ratio, int minPerSecond, Duration window) {
        this(ratio, minPerSecond, window, System::nanoTime);
    }

    RetryBudget(double ratio, int minPerSecond, Duration window, LongSupplier nanoClock) {
        this.ratio = ratio;
        this.reserve = (long) minPerSecond * Math.max(1, window.toSeconds());
        this.bucketNanos = Math.max(1, window.toNanos() / BUCKETS);
        this.nanoClock = nanoClock;
        java.util.Arrays.fill(epochs, Long.MIN_VALUE);
    }

    /** A request was sent (not a retry). */
    public synchronized void deposit() {
        deposits[bucket(now())]++;
    }

    /** Takes one retry from the budget; false when it is spent. */
    public synchronized boolean tryWithdraw() {
        long now = now();
        if (remaining(now) < 1) {
            return false;
        }
        withdrawals[bucket(now)]++;
        return true;
    }

    /** Retries still available now. */
    public synchronized long available() {
        return Math.max(0, (long) Math.floor(remaining(now())));
    }

    /** Ratio of the window's requests plus the reserve, less the window's retries. */
    private double remaining(long now) {
        long d = 0;
        long w = 0;
        for (int b = 0; b < BUCKETS; b++) {
            if (epochs[b] > now - BUCKETS) {
                d += deposits[b];
                w += withdrawals[b];
            }
        }
        return d * ratio + reserve - w;
    }

    private long now() {
        return Math.floorDiv(nanoClock.getAsLong(), bucketNanos);
    }

    private int bucket(long epoch) {
        int i = (int) Math.floorMod(epoch, (long) BUCKETS);
        if (epochs[i] != epoch) {
            epochs[i] = epoch;
            deposits[i] = 0;
            withdrawals[i] = 0;
        }
        return i;
    }
}
