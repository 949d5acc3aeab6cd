package dev.ward.proxy.http;

import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;

/**
 * Where a request is forwarded: hands out a channel that carries exactly one HTTP exchange as
 * Netty HTTP objects (a pooled HTTP/1.1 connection, or a new HTTP/2 stream), on the caller's
 * event loop, and takes it back afterwards.
 */
public interface Backend {

    /** Name for logs: the upstream's name, or {@code app}. */
    String name();

    /**
     * A channel on {@code loop} ready for one exchange. Fails with {@link BackendException} when
     * no connection can be had (refused, timed out, TLS or identity failure).
     */
    Future<Channel> acquire(EventLoop loop);

    /** A channel for one try of a request {@link #admit admitted} as {@code admission}. */
    default Future<Channel> acquire(EventLoop loop, Admission admission) {
        return acquire(loop);
    }

    /** Gives the channel back; {@code reusable} is false if the exchange did not end cleanly. */
    void release(Channel ch, boolean reusable);

    /**
     * The connection behind {@code ch} refuses new requests (e.g. its server is draining and
     * answered REFUSED_STREAM): hand out no more from it. Requests on it may finish.
     */
    default void retire(Channel ch) {
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
     * How the try on {@code ch} ended (see {@link Admission#end}); at most once per acquired
     * channel, before {@link #release}. A channel released without it counts as cancelled.
     */
    default void record(Channel ch, int status, String failure, long firstByteNanos) {
    }

    /** The upstream circuit breaker's state ({@code closed}, {@code open}, {@code half_open}), or null if none. */
    default String circuitState() {
        return null;
    }
}
