package dev.ward.proxy.tls;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counts refused TLS handshakes by reason code ({@code expired}, {@code unknown_ca},
 * {@code no_spiffe_id}, {@code wrong_trust_domain}, {@code no_client_certificate}, ...; refusals
 * of an upstream's server certificate are prefixed {@code upstream_}). Thread-safe.
 */
public final class HandshakeRefusals {

    private final Map<String, LongAdder> counts = new ConcurrentHashMap<>();
    private final LongAdder inboundOk = new LongAdder();
    private final LongAdder outboundOk = new LongAdder();

    /** A handshake succeeded: a caller's ({@code inbound}) or with an upstream. */
    public void succeeded(boolean inbound) {
        (inbound ? inboundOk : outboundOk).increment();
    }

    /** Successful handshakes: {@code inbound}, {@code outbound}. */
    public Map<String, Long> successes() {
        return Map.of("inbound", inboundOk.sum(), "outbound", outboundOk.sum());
    }

    /** Refusals by direction ({@code inbound}, {@code outbound}), then reason (without the {@code upstream_} prefix). */
    public Map<String, Map<String, Long>> byDirection() {
        Map<String, Map<String, Long>> m = new TreeMap<>();
        counts.forEach((k, v) -> {
            boolean out = k.startsWith("upstream_");
            m.computeIfAbsent(out ? "outbound" : "inbound", d -> new TreeMap<>())
                    .put(out ? k.substring("upstream_".length()) : k, v.sum());
        });
        return m;
    }

    public void record(String reason) {
        counts.computeIfAbsent(reason, r -> new LongAdder()).increment();
    }

    public long count(String reason) {
        LongAdder a = counts.get(reason);
        return a == null ? 0 : a.sum();
    }

    /** A sorted copy of every count so far. */
    public Map<String, Long> snapshot() {
        Map<String, Long> m = new TreeMap<>();
        counts.forEach((k, v) -> m.put(k, v.sum()));
        return m;
    }
}
