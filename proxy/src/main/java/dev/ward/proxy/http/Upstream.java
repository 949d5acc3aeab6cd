package dev.ward.proxy.http;

import io.netty.channel.Channel;
import io.netty.handler.codec.http.HttpObject;

/**
 * What a {@link Backend} hands out for one try of a request: a pooled HTTP/1.1 connection
 * ({@link Http1Upstream}, one exchange at a time), or one stream of an HTTP/2 connection
 * ({@link Http2Streams}, used for one exchange only). The exchange writes the request to it and
 * hears of the response through the {@link Relay} it sets, as {@link Downstream} is the caller's
 * side. A stream is not a Netty channel: the connection's frames reach it without a pipeline of
 * its own.
 *
 * <p>Used on its connection's event loop only.
 */
public interface Upstream {

    /** The connection: the HTTP/1.1 connection itself, or the HTTP/2 connection the stream is on. */
    Channel connection();

    /** An HTTP/2 stream (it carries this one exchange), rather than an HTTP/1.1 connection. */
    boolean multiplexed();

    /**
     * Whether it rides a connection that carried requests before (an idle HTTP/1.1 connection
     * taken again, a stream on an HTTP/2 connection that was open already): a request that fails
     * on it may have lost the keep-alive race rather than met a dead server.
     */
    boolean reused();

    /**
     * Where its events go from now on; null: nowhere (between exchanges an HTTP/1.1 connection's
     * guard gets them, and closes a connection the server talks on unasked).
     */
    void relayTo(Relay relay);

    /**
     * Writes a message of the request (taken: released here if it cannot go). A write that fails
     * closes it, and the relay hears {@link Relay#inactive}.
     */
    void write(HttpObject msg);

    void flush();

    /** Whether it takes more now; the relay hears {@link Relay#writabilityChanged} when that changes. */
    boolean isWritable();

    boolean isActive();

    /** Whether the response is read (off: held, and over HTTP/2 its bytes not given back to the server's window). */
    void setAutoRead(boolean on);

    /** Closes it: the HTTP/1.1 connection, or the stream (reset with {@code CANCEL} if it has not ended both ways). */
    void close();

    /** What the backend that handed it out keeps on it for the try (e.g. the endpoint's in-flight count); null if none. */
    Object attachment();

    void attach(Object attachment);

    /** What an exchange hears from the upstream it uses; {@code from} tells a try's upstream from an earlier one's. */
    interface Relay {
        /** A message of the response ({@link HttpObject}s, in order; anything else is released). */
        void read(Upstream from, Object msg);

        /** What one read of the connection brought has been handed on. */
        void readComplete(Upstream from);

        void writabilityChanged(Upstream from);

        /** The server reset the stream with {@code REFUSED_STREAM}: it did not process the request. {@link #inactive} follows. */
        void refused(Upstream from);

        /** It has gone: the connection closed, or the stream was reset or failed. Later in the loop's turn, as a channel's close. */
        void inactive(Upstream from);
    }
}
