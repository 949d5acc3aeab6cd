package dev.ward.telemetry.metrics;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * What the sidecar reports about itself at scrape time, read from the counters and state it keeps
 * anyway (so none of these metrics costs anything per request). Every method may be called from
 * the admin thread while traffic flows; each returns a consistent enough view.
 */
public interface SidecarState {

    /** Open connections by listener ({@code inbound}, {@code outbound}, {@code upstream:NAME}). */
    Map<String, Integer> openConnections();

    /** Open pooled connections to upstreams (and the local app, as {@code app}), by name. */
    Map<String, Integer> pooledConnections();

    /** One upstream's resilience state. {@code circuitState}: closed, open, half_open, disabled (or forced_open...). */
    record Upstream(String name, String circuitState, long rejectedCircuitOpen, long rejectedOverloaded, long retries,
                    long retriesDenied, long timeouts, int inFlight, int pending, int endpoints, int endpointsEjected) {}

    List<Upstream> upstreams();

    /** Successful handshakes ({@code inbound}, {@code outbound}). */
    Map<String, Long> handshakes();

    /** Failed handshakes: direction, then reason code, then count. */
    Map<String, Map<String, Long>> handshakeFailures();

    /** This sidecar's certificate's notAfter. */
    Instant leafNotAfter();

    /** The earliest notAfter in the trust bundle. */
    Instant bundleEarliestNotAfter();

    /** The policy in force: its service, version (may be null) and when it was loaded. */
    record Policy(String service, String version, Instant loadedAt, String source) {}

    Policy policy();
}
