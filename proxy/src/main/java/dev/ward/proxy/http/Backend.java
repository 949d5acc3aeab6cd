package dev.ward.proxy.http;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;

/**
 * Where a request is forwarded: hands out an {@link Upstream} that carries exactly one HTTP
 * exchange as Netty HTTP objects (a pooled HTTP/1.1 connection, or a new HTTP/2 stream), on the
 * caller's event loop, and takes it back afterwards.
 */
public interface Backend {

    /** Name for logs: the upstream's name, or {@code app}. */
    String name();

    /**
     * An {@link Upstream} on {@code loop} ready for one exchange (an HTTP/1.1 connection, or a new
     * stream of an HTTP/2 one). Fails with {@link BackendException} when no connection can be had
     * (refused, timed out, TLS or identity failure).
     */
    Future<Upstream> acquire(EventLoop loop);

    /** An upstream for one try of a request {@link #admit admitted} as {@code admission}. */
    default Future<Upstream> acquire(EventLoop loop, Admission admission) {
        return acquire(loop);
    }

    /**
     * Gives the upstream back (its user has cleared its relay first); {@code reusable} is false if
     * the exchange did not end cleanly (it is closed then).
     */
    void release(Upstream up, boolean reusable);

    /**
     * The connection behind {@code up} refuses new requests (e.g. its server is draining and
     * answered REFUSED_STREAM): hand out no more from it. Requests on it may finish.
     */
    default void retire(Upstream up) {
    }

    /**
     * Timeouts and retry rules for requests to this backend; null (the local app): none, beyond
     * the one safe replay of a request a server provably did not process.
     */
    default dev.ward.proxy.resilience.Resilience resilience() {
        return null;
    }

    /**
     * Admits one request (only asked when {@link #resilience()} is not null): completes at once,
     * or when a bulkhead slot frees, or fails with a {@link BackendException} (circuit open,
     * overloaded). Cancelling the future gives up waiting.
     */
    default Future<Admission> admit(EventLoop loop) {
        throw new UnsupportedOperationException(name() + " does not admit requests");
    }

    /**
     * How the try on {@code up} ended (see {@link Admission#end}); at most once per acquired
     * upstream, before {@link #release}. An upstream released without it counts as cancelled.
     */
    default void record(Upstream up, int status, String failure, long firstByteNanos) {
    }

    /** The upstream circuit breaker's state ({@code closed}, {@code open}, {@code half_open}), or null if none. */
    default String circuitState() {
        return null;
    }
}
