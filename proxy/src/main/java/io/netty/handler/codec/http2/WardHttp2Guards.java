package io.netty.handler.codec.http2;

/**
 * Netty's guards on what an HTTP/2 connection's encoder sends, for a codec Ward assembles itself
 * ({@code dev.ward.proxy.http.HttpPipelines#h2Codec}, which brings its own header decoder).
 * Netty's handler builders ({@code AbstractHttp2ConnectionHandlerBuilder}, which
 * {@code dev.ward.proxy.http.Http2Streams} is built with) add these guards only to the encoder
 * they make; given an encoder and decoder of one's own ({@code codec(decoder, encoder)}) they add
 * the decoder's guards but not these, and their classes are package-private. This class, in Netty's package, is the one place
 * Ward reaches them; it does what the builder's {@code buildFromConnection} does with its defaults
 * (Netty 4.2.18, pinned in the parent pom).
 */
public final class WardHttp2Guards {

    /** The builder's {@code DEFAULT_MAX_RST_FRAMES_PER_CONNECTION_FOR_SERVER} and its window: what a server sends, at most. */
    static final int MAX_RST_FRAMES_SENT_PER_WINDOW = 200;
    static final int RST_WINDOW_SECONDS = 30;

    private WardHttp2Guards() {}

    /**
     * {@code encoder} with Netty's default guards: at most
     * {@link Http2CodecUtil#DEFAULT_MAX_QUEUED_CONTROL_FRAMES} control frames (SETTINGS and PING
     * acknowledgements, RST_STREAMs) queued for a peer that does not read them, then the connection
     * closes; and, on a server, at most 200 RST_STREAMs sent in 30 s (a peer that makes the server
     * reset its streams over and over, CVE-2023-44487's kin).
     */
    public static Http2ConnectionEncoder guard(Http2ConnectionEncoder encoder, boolean server) {
        Http2ConnectionEncoder e = new Http2ControlFrameLimitEncoder(encoder, Http2CodecUtil.DEFAULT_MAX_QUEUED_CONTROL_FRAMES);
        if (server) {
            e = new Http2MaxRstFrameLimitEncoder(e, MAX_RST_FRAMES_SENT_PER_WINDOW, RST_WINDOW_SECONDS);
        }
        return e;
    }
}
