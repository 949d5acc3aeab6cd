package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2ChannelDuplexHandler;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.Http2StreamFrame;
import io.netty.handler.codec.http2.Http2WindowUpdateFrame;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link Http2Streams} on a connection Ward opened: its streams as {@link Upstream}s, between two
 * real HTTP/2 codecs (Ward's client codec, and a server's with its frames recorded), bytes handed
 * across in memory. What a request becomes on the wire, and what the exchange's relay hears of the
 * response, of flow control, refusals and closes.
 */
class Http2UpstreamStreamsTest {

    /** An exchange's stand-in: records what its upstream tells it; {@code onRead} acts as a proxy would. */
    static final class Recorder implements Upstream.Relay {
        final List<Object> read = new ArrayList<>();
        int readCompletes;
        int writabilityChanges;
        int refused;
        int inactive;
        BiConsumer<Upstream, Object> onRead = (u, m) -> { };

        @Override
        public void read(Upstream from, Object msg) {
            read.add(msg);
            onRead.accept(from, msg);
        }

        @Override
        public void readComplete(Upstream from) {
            readCompletes++;
        }

        @Override
        public void writabilityChanged(Upstream from) {
            writabilityChanges++;
        }

        @Override
        public void refused(Upstream from) {
            refused++;
        }

        @Override
        public void inactive(Upstream from) {
            inactive++;
        }
    }

    /** The server's side: records the frames it gets; answers on their streams. */
    static final class Server extends Http2ChannelDuplexHandler {
        final List<Http2StreamFrame> frames = new ArrayList<>();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof Http2StreamFrame f && !(f instanceof Http2WindowUpdateFrame)) {
                frames.add(f);
            } else {
                ReferenceCountUtil.release(msg);
            }
        }
    }

    final Http2Streams streams = HttpPipelines.h2ClientStreams(8192);
    final EmbeddedChannel client = new EmbeddedChannel(streams);
    final Server peer = new Server();
    final Recorder relay = new Recorder();
    EmbeddedChannel server;

    /** A server whose streams take at most {@code window} bytes of request body before it gives some back. */
    void connect(int window) {
        connect(Http2Settings.defaultSettings().initialWindowSize(window));
    }

    /** A server that sends {@code settings}. */
    void connect(Http2Settings settings) {
        server = new EmbeddedChannel(H2Peers.frameCodec(true, settings), peer);
        pump();
    }

    /** Hands each side's bytes to the other until neither has any left. */
    void pump() {
        InMemoryWire.pump(client, server);
        for (Object m; (m = client.readInbound()) != null; ) {
            ReferenceCountUtil.release(m); // the connection's own frames (SETTINGS...), past the streams
        }
    }

    /** Sends {@code frame} from the server on the stream of the first frame it got. */
    void answer(Http2StreamFrame frame) {
        server.writeAndFlush(frame.stream(peer.frames.get(0).stream()));
        pump();
    }

    /** A new upstream stream relaying to {@link #relay}, with a GET (whole) or a POST head (body to follow) written. */
    Upstream request(boolean whole) {
        Upstream up = streams.open(false);
        up.relayTo(relay);
        if (whole) {
            DefaultFullHttpRequest get = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/orders/42",
                    Unpooled.EMPTY_BUFFER);
            get.headers().set(HttpHeaderNames.HOST, "orders");
            up.write(get);
        } else {
            DefaultHttpRequest post = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/orders");
            post.headers().set(HttpHeaderNames.HOST, "orders");
            up.write(post);
        }
        up.flush();
        pump();
        return up;
    }

    static ByteBuf bytes(int n) {
        return Unpooled.buffer(n).writeZero(n);
    }

    /** Response bytes the client has taken in and not given back to the server's window. */
    int unconsumed(Http2FrameStream s) {
        Http2Stream st = streams.connection().stream(s.id());
        return st == null ? 0 : streams.connection().local().flowController().unconsumedBytes(st);
    }

    @AfterEach
    void close() {
        relay.read.forEach(ReferenceCountUtil::release);
        peer.frames.forEach(ReferenceCountUtil::release);
        client.finishAndReleaseAll();
        server.finishAndReleaseAll();
    }

    /**
     * A request head larger than the server's header list limit is not sent: nothing of it, nor
     * of its body, reaches the server, its relay hears the stream is over, and the connection
     * serves the next request.
     */
    @Test
    void aRequestHeadTheServerWouldNotTakeEndsItsStreamAndSendsNothing() {
        connect(Http2Settings.defaultSettings().maxHeaderListSize(256));
        Upstream up = streams.open(false);
        up.relayTo(relay);
        DefaultHttpRequest post = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/orders");
        post.headers().set(HttpHeaderNames.HOST, "orders").set("x-large", "x".repeat(400));
        up.write(post);
        up.write(new DefaultLastHttpContent(Unpooled.copiedBuffer("body", StandardCharsets.US_ASCII)));
        up.flush();
        pump();
        client.runPendingTasks();
        assertThat(peer.frames).as("neither the head nor the body").isEmpty();
        assertThat(up.isActive()).isFalse();
        assertThat(relay.inactive).as("its relay hears the stream is over").isEqualTo(1);
        assertThat(streams.openStreams()).isZero();

        Upstream next = request(true);
        assertThat(peer.frames).as("the next request goes").hasSize(1).first().isInstanceOf(Http2HeadersFrame.class);
        assertThat(next.isActive()).isTrue();
    }

    /**
     * A stream the connection cannot take (the server's limit of concurrent streams reached) ends
     * at its first write without a frame, its relay hears of it, and the connection goes on.
     */
    @Test
    void aStreamBeyondTheServersLimitEndsWithoutAFrame() {
        connect(Http2Settings.defaultSettings().maxConcurrentStreams(1));
        Upstream first = request(false); // its body still to come: the stream stays open
        assertThat(streams.canOpenStream()).as("the server's limit, as its SETTINGS said").isFalse();
        Recorder second = new Recorder();
        Upstream up = streams.open(false);
        up.relayTo(second);
        up.write(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/b", Unpooled.EMPTY_BUFFER));
        up.flush();
        pump();
        client.runPendingTasks();
        assertThat(up.isActive()).isFalse();
        assertThat(second.inactive).isEqualTo(1);
        assertThat(peer.frames).as("the first stream's head alone").hasSize(1);
        assertThat(first.isActive()).isTrue();
        assertThat(client.isActive()).isTrue();
    }

    @Test
    void aRequestGoesOutOnANewStreamAndItsResponseComesBackToTheRelay() {
        connect(65_535);
        Upstream up = request(true);
        assertThat(up.multiplexed()).isTrue();
        assertThat(up.reused()).isFalse();
        assertThat(up.connection()).isSameAs(client);
        assertThat(peer.frames).hasSize(1);
        Http2HeadersFrame head = (Http2HeadersFrame) peer.frames.get(0);
        assertThat(head.isEndStream()).as("a request without a body is one HEADERS frame").isTrue();
        assertThat(head.headers().method().toString()).isEqualTo("GET");
        assertThat(head.headers().path().toString()).isEqualTo("/orders/42");
        assertThat(head.headers().authority().toString()).isEqualTo("orders");
        assertThat(head.headers().scheme().toString()).as("no TLS on this connection").isEqualTo("http");
        assertThat(streams.openStreams()).isEqualTo(1);

        answer(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200"), false));
        relay.onRead = (u, m) -> {
            if (m instanceof LastHttpContent) {
                u.relayTo(null); // as an exchange releases its upstream once the response is done
            }
        };
        answer(new DefaultHttp2DataFrame(Unpooled.copiedBuffer("ok", StandardCharsets.US_ASCII), true));
        assertThat(relay.read).hasSize(2);
        assertThat(((HttpResponse) relay.read.get(0)).status().code()).isEqualTo(200);
        assertThat(((LastHttpContent) relay.read.get(1)).content().toString(StandardCharsets.US_ASCII)).isEqualTo("ok");
        assertThat(relay.readCompletes).isPositive();
        assertThat(streams.openStreams()).as("the stream ended both ways and was let go").isZero();
        assertThat(up.isActive()).isFalse();
        client.runPendingTasks();
        assertThat(relay.inactive).as("a relay released before the end is not told").isZero();

        Upstream next = streams.open(true);
        next.write(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/b", Unpooled.EMPTY_BUFFER));
        next.flush();
        pump();
        assertThat(next.reused()).isTrue();
        assertThat(peer.frames.get(1).stream().id()).as("the next stream id, given at its first write")
                .isEqualTo(peer.frames.get(0).stream().id() + 2);
    }

    @Test
    void aRelayThatStopsReadingHoldsTheResponseAndItsWindowAndGetsAllOfItAfterTheStreamEnded() {
        connect(65_535);
        relay.onRead = (u, m) -> {
            if (m instanceof HttpResponse) {
                u.setAutoRead(false); // the caller cannot take more
            }
            if (m instanceof LastHttpContent) {
                u.relayTo(null);
            }
        };
        Upstream up = request(true);
        Http2FrameStream s = peer.frames.get(0).stream();
        answer(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200"), false));
        answer(new DefaultHttp2DataFrame(bytes(1000), false));
        answer(new DefaultHttp2DataFrame(bytes(1000), false));
        assertThat(relay.read).hasSize(1);
        assertThat(unconsumed(s)).as("held bytes are not given back: the server's window shrinks").isEqualTo(2000);
        answer(new DefaultHttp2DataFrame(bytes(500), true));
        assertThat(streams.connection().stream(s.id())).as("ended both ways: the codec let it go").isNull();
        assertThat(up.isActive()).as("but the response is not all handed on").isTrue();
        assertThat(relay.read).hasSize(1);

        up.setAutoRead(true);
        assertThat(relay.read).hasSize(4);
        assertThat(relay.read.get(1)).isInstanceOf(HttpContent.class).isNotInstanceOf(LastHttpContent.class);
        assertThat(relay.read.get(2)).isInstanceOf(HttpContent.class).isNotInstanceOf(LastHttpContent.class);
        assertThat(relay.read.get(3)).isInstanceOf(LastHttpContent.class);
        assertThat(((HttpContent) relay.read.get(3)).content().readableBytes()).isEqualTo(500);
        assertThat(up.isActive()).isFalse();
        assertThat(streams.openStreams()).isZero();
        client.runPendingTasks();
        assertThat(relay.inactive).isZero();
    }

    @Test
    void aRefusedStreamTellsTheRelayThenEnds() {
        connect(65_535);
        Upstream up = request(true);
        answer(new DefaultHttp2ResetFrame(Http2Error.REFUSED_STREAM));
        assertThat(relay.refused).isEqualTo(1);
        assertThat(up.isActive()).isFalse();
        assertThat(relay.inactive).as("told after the refusal").isEqualTo(1);
        assertThat(streams.openStreams()).isZero();
    }

    @Test
    void closingAStreamThatHasNotEndedResetsIt() {
        connect(65_535);
        Upstream up = request(false);
        up.close();
        pump();
        assertThat(peer.frames).hasSize(2);
        assertThat(peer.frames.get(1)).isInstanceOf(Http2ResetFrame.class);
        assertThat(((Http2ResetFrame) peer.frames.get(1)).errorCode()).isEqualTo(Http2Error.CANCEL.code());
        assertThat(relay.inactive).as("its relay was still set: it hears the end").isEqualTo(1);
        up.write(new DefaultHttpContent(bytes(10)));
        up.flush();
        pump();
        assertThat(peer.frames).as("a write after the end goes nowhere").hasSize(2);
    }

    @Test
    void aStreamWithoutSendWindowIsNotWritableUntilTheServerGivesSomeBack() {
        connect(16);
        Upstream up = request(false);
        assertThat(up.isWritable()).isTrue();
        up.write(new DefaultHttpContent(bytes(24)));
        up.flush();
        pump();
        assertThat(up.isWritable()).as("8 of the 24 bytes wait for window").isFalse();
        int changes = relay.writabilityChanges;
        assertThat(peer.frames).hasSize(2);
        assertThat(((Http2DataFrame) peer.frames.get(1)).content().readableBytes()).isEqualTo(16);

        answer(new DefaultHttp2WindowUpdateFrame(16)); // the server read them
        assertThat(relay.writabilityChanges).isGreaterThan(changes);
        assertThat(up.isWritable()).isTrue();
        assertThat(peer.frames.stream().filter(f -> f instanceof Http2DataFrame)
                .mapToInt(f -> ((Http2DataFrame) f).content().readableBytes()).sum()).isEqualTo(24);
    }
}
