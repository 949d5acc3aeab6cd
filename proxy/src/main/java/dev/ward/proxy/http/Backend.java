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

    /** Gives the channel back; {@code reusable} is false if the exchange did not end cleanly. */
    void release(Channel ch, boolean reusable);

    /**
     * The connection behind {@code ch} refuses new requests (e.g. its server is draining and
     * answered REFUSED_STREAM): hand out no more from it. Requests on it may finish.
     */
    default void retire(Channel ch) {
    }
}
