package dev.ward.proxy.http;

import dev.ward.authz.identity.SpiffeId;

/** Receives one record per finished exchange (for the access log; later, metrics and spans). */
@FunctionalInterface
public interface ExchangeLog {

    ExchangeLog NONE = (direction, peer, method, path, status, nanos, upstream, reason, rule) -> { };

    /**
     * {@code reason} is the local reply's reason code, or null when the backend answered;
     * {@code rule} is the policy rule that allowed the request, or null.
     */
    void record(String direction, SpiffeId peer, String method, String path, int status, long nanos,
                String upstream, String reason, String rule);
}
