package dev.ward.proxy.config;

import java.time.Duration;
import java.util.List;
import java.util.Locale;
import dev.ward.proxy.resilience.Outcomes;
import java.util.Set;

/** Checks an upstream's timeouts, circuit breaker, retry and bulkhead settings; names every problem. */
final class UpstreamValidation {

    private static final Set<String> METHODS = Set.of("GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE", "POST", "PATCH");

    private UpstreamValidation() {}

    static void validate(String at, SidecarConfig.Upstream u, List<String> p) {
        SidecarConfig.Timeouts t = u.timeouts();
        positive(t.connect(), at + ".timeouts.connect", p);
        positive(t.firstByte(), at + ".timeouts.firstByte", p);
        positive(t.idle(), at + ".timeouts.idle", p);
        if (t.connect().toMillis() > Integer.MAX_VALUE) {
            p.add(at + ".timeouts.connect: too long");
        }

        SidecarConfig.CircuitBreaker b = u.circuitBreaker();
        String cb = at + ".circuitBreaker";
        percent(b.failureRateThreshold(), cb + ".failureRateThreshold", p);
        percent(b.slowCallRateThreshold(), cb + ".slowCallRateThreshold", p);
        positive(b.slowCallDuration(), cb + ".slowCallDuration", p);
        positive(b.openFor(), cb + ".openFor", p);
        atLeast(b.slidingWindowSize(), 1, cb + ".slidingWindowSize", p);
        atLeast(b.minimumCalls(), 1, cb + ".minimumCalls", p);
        atLeast(b.halfOpenCalls(), 1, cb + ".halfOpenCalls", p);
        if (b.slidingWindowType() == SidecarConfig.WindowType.COUNT && b.minimumCalls() > b.slidingWindowSize()
                && b.slidingWindowSize() > 0) {
            p.add(cb + ".minimumCalls: " + b.minimumCalls() + " is more than slidingWindowSize " + b.slidingWindowSize()
                    + " (a count window never holds that many calls, so the breaker could never open)");
        }
        outcomes(b.failOn(), cb + ".failOn", p);

        SidecarConfig.Retry r = u.retry();
        String rt = at + ".retry";
        atLeast(r.attempts(), 0, rt + ".attempts", p);
        if (r.attempts() > 10) {
            p.add(rt + ".attempts: " + r.attempts() + " (expected: at most 10)");
        }
        for (String m : r.methods()) {
            if (m == null || !METHODS.contains(m.toUpperCase(Locale.ROOT))) {
                p.add(rt + ".methods: unknown method '" + m + "' (expected some of: " + String.join(", ", sorted(METHODS)) + ")");
            }
        }
        outcomes(r.on(), rt + ".on", p);
        for (String o : r.on()) {
            if ("identity".equals(o)) {
                p.add(rt + ".on: 'identity' (an upstream presenting the wrong identity is never retried)");
            }
        }
        atLeast(r.maxBufferedBody(), 0, rt + ".maxBufferedBody", p);
        positive(r.backoff(), rt + ".backoff", p);
        positive(r.maxBackoff(), rt + ".maxBackoff", p);
        if (r.maxBackoff().compareTo(r.backoff()) < 0) {
            p.add(rt + ".maxBackoff: shorter than backoff");
        }
        SidecarConfig.Budget bu = r.budget();
        if (bu.ratio() < 0 || bu.ratio() > 1 || bu.ratio().isNaN()) {
            p.add(rt + ".budget.ratio: " + bu.ratio() + " (expected: 0 to 1, e.g. 0.2 for retries up to 20% of requests)");
        }
        atLeast(bu.minPerSecond(), 0, rt + ".budget.minPerSecond", p);
        if (bu.window().compareTo(Duration.ofSeconds(1)) < 0 || bu.window().compareTo(Duration.ofMinutes(1)) > 0) {
            p.add(rt + ".budget.window: " + Durations.format(bu.window()) + " (expected: 1s to 60s)");
        }

        SidecarConfig.Bulkhead h = u.bulkhead();
        atLeast(h.maxConcurrent(), 1, at + ".bulkhead.maxConcurrent", p);
        atLeast(h.maxPending(), 0, at + ".bulkhead.maxPending", p);
    }

    private static void outcomes(List<String> list, String field, List<String> p) {
        for (String o : list) {
            if (!Outcomes.isValid(o)) {
                p.add(field + ": unknown outcome '" + o + "' (expected: " + String.join(", ", sorted(Outcomes.KINDS))
                        + " or a status code such as 503)");
            }
        }
    }

    private static List<String> sorted(Set<String> s) {
        return s.stream().sorted().toList();
    }

    private static void positive(Duration d, String field, List<String> p) {
        if (d.isNegative() || d.isZero()) {
            p.add(field + ": must be positive");
        }
    }

    private static void percent(Float v, String field, List<String> p) {
        if (v.isNaN() || v <= 0 || v > 100) {
            p.add(field + ": " + v + " (expected: a percentage above 0, at most 100)");
        }
    }

    private static void atLeast(int v, int min, String field, List<String> p) {
        if (v < min) {
            p.add(field + ": " + v + " (expected: " + min + " or more)");
        }
    }
}
