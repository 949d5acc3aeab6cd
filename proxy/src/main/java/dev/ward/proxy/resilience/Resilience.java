package dev.ward.proxy.resilience;

import dev.ward.proxy.config.SidecarConfig;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Collectors;

/**
 * What the data path needs to know to protect a request to one upstream: its timeouts, and
 * when and how often it may be tried again. Immutable except for the shared {@link RetryBudget}.
 */
public final class Resilience {

    private final long firstByteNanos;
    private final long totalNanos;
    private final int attempts;
    private final Set<String> methods;
    private final Outcomes retryOn;
    private final int maxBufferedBody;
    private final long backoffNanos;
    private final long maxBackoffNanos;
    private final RetryBudget budget;
    private final java.util.concurrent.atomic.LongAdder retries = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder retriesDenied = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder timeouts = new java.util.concurrent.atomic.LongAdder();

    public Resilience(SidecarConfig.Timeouts t, SidecarConfig.Retry r) {
        this.firstByteNanos = t.firstByte().toNanos();
        this.totalNanos = t.total().toNanos();
        this.attempts = r.attempts();
        this.methods = r.methods().stream().map(m -> m.toUpperCase(Locale.ROOT)).collect(Collectors.toUnmodifiableSet());
        this.retryOn = Outcomes.of(r.on());
        this.maxBufferedBody = r.maxBufferedBody();
        this.backoffNanos = r.backoff().toNanos();
        this.maxBackoffNanos = r.maxBackoff().toNanos();
        this.budget = new RetryBudget(r.budget().ratio(), r.budget().minPerSecond(), r.budget().window());
    }

    /** Time allowed from the start of a try until the response headers. */
    public long firstByteNanos() {
        return firstByteNanos;
    }

    /** Time allowed for the whole exchange, retries included; 0: no limit. */
    public long totalNanos() {
        return totalNanos;
    }

    /** Retries allowed after the first try. */
    public int attempts() {
        return attempts;
    }

    public boolean retriesMethod(String method) {
        return attempts > 0 && methods.contains(method);
    }

    public boolean retriesOn(String failure, int status) {
        return retryOn.matches(failure, status);
    }

    public boolean retriesStatus(int status) {
        return attempts > 0 && retryOn.matchesStatus(status);
    }

    public int maxBufferedBody() {
        return maxBufferedBody;
    }

    /** Wait before retry number {@code n} (1-based): random in [cap/2, cap], cap = backoff·2^(n−1) up to maxBackoff. */
    public long backoffNanos(int n) {
        long cap = backoffNanos << Math.min(n - 1, 20);
        if (cap <= 0 || cap > maxBackoffNanos) {
            cap = maxBackoffNanos;
        }
        return cap / 2 + ThreadLocalRandom.current().nextLong(cap / 2 + 1);
    }

    /** A request (not a retry) starts. */
    public void requestStarted() {
        budget.deposit();
    }

    /** Asks the budget for one retry; counts the answer. */
    public boolean tryRetry() {
        if (budget.tryWithdraw()) {
            retries.increment();
            return true;
        }
        retriesDenied.increment();
        return false;
    }

    public void timedOut() {
        timeouts.increment();
    }

    public long retries() {
        return retries.sum();
    }

    public long retriesDenied() {
        return retriesDenied.sum();
    }

    public long timeouts() {
        return timeouts.sum();
    }

    public long budgetAvailable() {
        return budget.available();
    }
}
