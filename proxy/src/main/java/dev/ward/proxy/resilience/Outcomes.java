package dev.ward.proxy.resilience;

import java.util.BitSet;
import java.util.List;
import java.util.Set;

/**
 * A set of ways a try can end: failure kinds ({@code connect}, {@code tls}, {@code identity},
 * {@code timeout}, {@code reset}) and response status codes. What a circuit breaker counts as a
 * failure ({@code failOn}) and what a retry is made for ({@code retry.on}).
 */
public final class Outcomes {

    public static final String CONNECT = "connect";
    public static final String TLS = "tls";
    public static final String IDENTITY = "identity";
    public static final String TIMEOUT = "timeout";
    public static final String RESET = "reset";

    /** Every failure kind, for config validation. */
    public static final Set<String> KINDS = Set.of(CONNECT, TLS, IDENTITY, TIMEOUT, RESET);

    private final Set<String> kinds;
    private final BitSet statuses = new BitSet(600);

    private Outcomes(List<String> items) {
        java.util.HashSet<String> k = new java.util.HashSet<>();
        for (String s : items) {
            if (!s.isEmpty() && Character.isDigit(s.charAt(0))) {
                statuses.set(Integer.parseInt(s));
            } else {
                k.add(s);
            }
        }
        this.kinds = Set.copyOf(k);
    }

    /** Whether a config value names an outcome: a failure kind, or an HTTP status code 100-599. */
    public static boolean isValid(String item) {
        if (item == null) {
            return false;
        }
        if (KINDS.contains(item)) {
            return true;
        }
        try {
            int code = Integer.parseInt(item);
            return code >= 100 && code <= 599;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /** From validated config values. */
    public static Outcomes of(List<String> items) {
        return new Outcomes(items);
    }

    /** Whether a try that ended with {@code failure} (a kind, or null) and {@code status} (0: none) is in the set. */
    public boolean matches(String failure, int status) {
        if (failure != null) {
            return kinds.contains(failure);
        }
        return status > 0 && status < 600 && statuses.get(status);
    }

    public boolean matchesStatus(int status) {
        return status > 0 && status < 600 && statuses.get(status);
    }
}
