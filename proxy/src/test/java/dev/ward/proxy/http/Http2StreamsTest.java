package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
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
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link Http2Streams} between two real HTTP/2 codecs (a listener's, and a caller's with its frames
 * recorded), bytes handed across in memory: what a stream's handler is handed, and what the caller
 * sees of its writes, closes and flow control.
 */
class Http2StreamsTest {

    /** A stream's handler that records what it is handed; {@code onRead} acts on its stream as a proxy would. */
    static final class Recorder implements Http2Streams.StreamHandler {
        Downstream stream;
        final List<Object> read = new ArrayList<>();
        int readCompletes;
        int writabilityChanges;
        boolean inactive;
        boolean done;
        BiConsumer<Recorder, Object> onRead = (r, m) -> { };

        @Override
        public void attach(Downstream stream) {
            this.stream = stream;
        }

        @Override
        public void read(Object msg) {
            read.add(msg);
            onRead.accept(this, msg);
        }

        @Override
        public void readComplete() {
            readCompletes++;
        }

        @Override
        public void writabilityChanged() {
            writabilityChanges++;
        }

        @Override
        public void inactive() {
            inactive = true;
        }

        @Override
        public boolean idle() {
            return done;
        }

        void releaseAll() {
            read.forEach(ReferenceCountUtil::release);
        }
    }

    /** The caller's side: opens streams, records the frames it gets. */
    static final class Caller extends Http2ChannelDuplexHandler {
        final List<Http2StreamFrame> frames = new ArrayList<>();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof Http2StreamFrame f && !(f instanceof io.netty.handler.codec.http2.Http2WindowUpdateFrame)) {
                frames.add(f);
            } else {
                ReferenceCountUtil.release(msg);
            }
        }

        Http2FrameStream open() {
            return newStream();
        }
    }

    final List<Recorder> handlers = new ArrayList<>();
    BiConsumer<Recorder, Object> onRead = (r, m) -> { };
    final Http2Streams streams = H2Peers.server(Http2Settings.defaultSettings(), () -> {
        Recorder r = new Recorder();
        r.onRead = onRead;
        handlers.add(r);
        return r;
    });
    final EmbeddedChannel server = new EmbeddedChannel(streams);
    final Caller caller = new Caller();
    EmbeddedChannel client;

    /** A caller whose streams take at most {@code window} bytes of response before it gives some back. */
    void connect(int window) {
        connect(Http2Settings.defaultSettings().initialWindowSize(window));
    }

    /** A caller that sends {@code settings}. */
    void connect(Http2Settings settings) {
        client = new EmbeddedChannel(H2Peers.frameCodec(false, settings), caller);
        pump();
    }

    /** Hands each side's bytes to the other until neither has any left. */
    void pump() {
        InMemoryWire.pump(client, server);
        for (Object m; (m = server.readInbound()) != null; ) {
            ReferenceCountUtil.release(m); // the connection's own frames (SETTINGS...), past the streams
        }
    }

    void send(Http2StreamFrame frame) {
        client.writeAndFlush(frame);
        pump();
    }

    Http2FrameStream request(boolean end) {
        Http2FrameStream s = caller.open();
        send(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().method("POST").path("/orders").scheme("https")
                .authority("orders"), end).stream(s));
        return s;
    }

    static ByteBuf bytes(int n) {
        return Unpooled.buffer(n).writeZero(n);
    }

    int unconsumed(Http2FrameStream s) {
        Http2Stream st = streams.connection().stream(s.id());
        return streams.connection().local().flowController().unconsumedBytes(st);
    }

    @AfterEach
    void close() {
        handlers.forEach(Recorder::releaseAll);
        caller.frames.forEach(ReferenceCountUtil::release);
        client.finishAndReleaseAll();
        server.finishAndReleaseAll();
    }

    @Test
    void aRequestReachesItsOwnHandlerAndItsResponseGoesBackOnItsStream() {
        connect(65_535);
        Http2FrameStream s = request(false);
        send(new DefaultHttp2DataFrame(Unpooled.copiedBuffer("hello", StandardCharsets.US_ASCII), true).stream(s));
        Http2FrameStream other = request(true);

        assertThat(handlers).hasSize(2);
        Recorder r = handlers.get(0);
        assertThat(r.read).hasSize(2);
        assertThat(((HttpRequest) r.read.get(0)).uri()).isEqualTo("/orders");
        assertThat(((LastHttpContent) r.read.get(1)).content().toString(StandardCharsets.US_ASCII)).isEqualTo("hello");
        assertThat(r.readCompletes).isPositive();
        assertThat(unconsumed(s)).as("the body's bytes given back once read").isZero();
        assertThat(handlers.get(1).read).hasSize(1).first().isInstanceOf(HttpRequest.class);

        r.done = true;
        r.stream.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CREATED,
                Unpooled.copiedBuffer("ok", StandardCharsets.US_ASCII)), false);
        pump();
        assertThat(caller.frames).hasSize(2);
        assertThat(caller.frames.get(0)).isInstanceOf(Http2HeadersFrame.class);
        assertThat(((Http2HeadersFrame) caller.frames.get(0)).headers().status().toString()).isEqualTo("201");
        assertThat(caller.frames.get(0).stream().id()).isEqualTo(s.id());
        Http2DataFrame data = (Http2DataFrame) caller.frames.get(1);
        assertThat(data.content().toString(StandardCharsets.US_ASCII)).isEqualTo("ok");
        assertThat(data.isEndStream()).isTrue();
        assertThat(streams.openStreams()).as("the stream ended both ways and was let go").isEqualTo(1);
        assertThat(other.state()).isEqualTo(Http2Stream.State.HALF_CLOSED_LOCAL);
        server.runPendingTasks();
        assertThat(r.inactive).as("a handler done with its exchange is not told").isFalse();
    }

    @Test
    void aStreamClosesAsItsLastFrameIsWrittenWithoutAPromiseAndItsBusyHandlerIsNotTold() {
        connect(65_535);
        Http2FrameStream s = request(true);
        Recorder r = handlers.get(0);
        List<Boolean> voidWrites = new ArrayList<>();
        server.pipeline().addFirst(new io.netty.channel.ChannelOutboundHandlerAdapter() {
            @Override
            public void write(ChannelHandlerContext ctx, Object msg, io.netty.channel.ChannelPromise promise) {
                voidWrites.add(promise.isVoid());
                ctx.write(msg, promise);
            }
        });
        // The handler is still in its exchange (not idle) as its response's end goes, as a proxy's is.
        r.stream.writeAndFlush(new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK), false);
        r.stream.writeAndFlush(new DefaultLastHttpContent(Unpooled.copiedBuffer("ok", StandardCharsets.US_ASCII)), false);
        assertThat(streams.connection().stream(s.id())).as("closed as its last DATA frame was written").isNull();
        assertThat(streams.openStreams()).isZero();
        assertThat(voidWrites).as("head and body written with void promises").isNotEmpty().containsOnly(true);
        r.done = true;
        server.runPendingTasks();
        assertThat(r.inactive).as("a handler that wrote its response's end is not told the stream has gone").isFalse();
        pump();
        assertThat(caller.frames).hasSize(2);
        Http2DataFrame data = (Http2DataFrame) caller.frames.get(1);
        assertThat(data.content().toString(StandardCharsets.US_ASCII)).isEqualTo("ok");
        assertThat(data.isEndStream()).isTrue();
    }

    @Test
    void closingTheConnectionWithAStreamOpenDoesNotWaitForIt() {
        connect(65_535);
        request(false);
        assertThat(streams.openStreams()).isOne();
        server.pipeline().close(); // not EmbeddedChannel's close, which runs the timers due first
        // Netty's handler would wait for the stream (or its grace period's timer, not run here) to
        // close; a stream may now close before its last frame is flushed, which must not close the
        // connection under that frame.
        assertThat(server.isOpen()).as("closed once its GOAWAY is out").isFalse();
        Object goAway = server.readOutbound();
        assertThat(goAway).as("the GOAWAY went first").isNotNull();
        ReferenceCountUtil.release(goAway);
    }

    @Test
    void aHandlerThatStopsReadingHoldsTheFramesAndTheirWindowUntilItReadsAgain() {
        connect(65_535);
        onRead = (r, m) -> {
            if (m instanceof HttpRequest) {
                r.stream.setAutoRead(false);
            }
        };
        Http2FrameStream s = request(false);
        send(new DefaultHttp2DataFrame(bytes(1000), false).stream(s));
        send(new DefaultHttp2DataFrame(bytes(1000), true).stream(s));
        Recorder r = handlers.get(0);
        assertThat(r.read).hasSize(1);
        assertThat(unconsumed(s)).as("held bytes are not given back: the caller's window shrinks").isEqualTo(2000);

        int completes = r.readCompletes;
        r.stream.setAutoRead(true);
        assertThat(r.read).hasSize(3);
        assertThat(r.read.get(1)).isInstanceOf(HttpContent.class).isNotInstanceOf(LastHttpContent.class);
        assertThat(r.read.get(2)).isInstanceOf(LastHttpContent.class);
        assertThat(((HttpContent) r.read.get(2)).content().readableBytes()).isEqualTo(1000);
        assertThat(r.readCompletes).as("a read outside the connection's is completed at once").isGreaterThan(completes);
        assertThat(unconsumed(s)).isZero();
    }

    @Test
    void aStreamTheCallerResetsEndsItsHandlerAndDropsWhatWasHeld() {
        connect(65_535);
        onRead = (r, m) -> r.stream.setAutoRead(false);
        Http2FrameStream s = request(false);
        ByteBuf body = bytes(100);
        send(new DefaultHttp2DataFrame(body, false).stream(s));
        Recorder r = handlers.get(0);
        assertThat(r.read).hasSize(1);

        send(new DefaultHttp2ResetFrame(Http2Error.CANCEL).stream(s));
        assertThat(streams.openStreams()).isZero();
        assertThat(r.stream.isActive()).isFalse();
        assertThat(r.inactive).as("the handler is told (in a task of the loop, as a channel's close tells it)").isTrue();
        r.stream.setAutoRead(true);
        assertThat(r.read).as("the held body is dropped, not handed on").hasSize(1);
        r.stream.write(new DefaultLastHttpContent(bytes(10)));
        r.stream.flush();
        pump();
        assertThat(caller.frames).as("a write after the end goes nowhere").isEmpty();
    }

    @Test
    void closingAStreamThatHasNotEndedResetsItAndRefusingSaysSo() {
        connect(65_535);
        Http2FrameStream cancelled = request(false);
        Http2FrameStream refused = request(true);
        handlers.get(0).stream.close();
        handlers.get(1).stream.refuse();
        pump();
        assertThat(caller.frames).hasSize(2).allMatch(f -> f instanceof Http2ResetFrame);
        assertThat(((Http2ResetFrame) caller.frames.get(0)).errorCode()).isEqualTo(Http2Error.CANCEL.code());
        assertThat(caller.frames.get(0).stream().id()).isEqualTo(cancelled.id());
        assertThat(((Http2ResetFrame) caller.frames.get(1)).errorCode()).isEqualTo(Http2Error.REFUSED_STREAM.code());
        assertThat(caller.frames.get(1).stream().id()).isEqualTo(refused.id());
        server.runPendingTasks();
        assertThat(handlers).allMatch(r -> r.inactive);

        // A stream that ended both ways is closed without a reset.
        Http2FrameStream whole = request(true);
        Recorder r = handlers.get(2);
        r.done = true;
        r.stream.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NO_CONTENT), true);
        pump();
        assertThat(caller.frames).hasSize(3);
        assertThat(caller.frames.get(2)).isInstanceOf(Http2HeadersFrame.class);
        assertThat(((Http2HeadersFrame) caller.frames.get(2)).isEndStream()).isTrue();
        assertThat(whole.state()).isEqualTo(Http2Stream.State.CLOSED);
    }

    @Test
    void aStreamWithoutSendWindowIsNotWritableUntilTheCallerGivesSomeBack() {
        connect(16);
        Http2FrameStream s = request(true);
        Recorder r = handlers.get(0);
        assertThat(r.stream.isWritable()).isTrue();
        r.stream.write(new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK));
        r.stream.write(new DefaultHttpContent(bytes(24)));
        r.stream.flush();
        pump();
        assertThat(r.stream.isWritable()).as("8 of the 24 bytes wait for window").isFalse();
        int changes = r.writabilityChanges;
        assertThat(caller.frames).hasSize(2);
        assertThat(((Http2DataFrame) caller.frames.get(1)).content().readableBytes()).isEqualTo(16);

        client.writeAndFlush(new DefaultHttp2WindowUpdateFrame(16).stream(s)); // the caller read them
        pump();
        assertThat(r.writabilityChanges).isGreaterThan(changes);
        assertThat(caller.frames.stream().filter(f -> f instanceof Http2DataFrame)
                .mapToInt(f -> ((Http2DataFrame) f).content().readableBytes()).sum()).isEqualTo(24);
        assertThat(r.stream.isWritable()).isTrue();
    }

    @Test
    void trailersGoBothWays() {
        connect(65_535);
        Http2FrameStream s = request(false);
        send(new DefaultHttp2DataFrame(Unpooled.copiedBuffer("abc", StandardCharsets.US_ASCII), false).stream(s));
        send(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().add("x-checksum", "900150983cd24fb0"), true).stream(s));
        Recorder r = handlers.get(0);
        assertThat(r.read).hasSize(3);
        LastHttpContent last = (LastHttpContent) r.read.get(2);
        assertThat(last.trailingHeaders().get("x-checksum")).isEqualTo("900150983cd24fb0");

        r.done = true;
        r.stream.write(new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK));
        DefaultLastHttpContent end = new DefaultLastHttpContent(Unpooled.copiedBuffer("xyz", StandardCharsets.US_ASCII));
        end.trailingHeaders().add("grpc-status", "0");
        r.stream.writeAndFlush(end, false);
        pump();
        assertThat(caller.frames).hasSize(3);
        Http2DataFrame data = (Http2DataFrame) caller.frames.get(1);
        assertThat(data.content().toString(StandardCharsets.US_ASCII)).isEqualTo("xyz");
        assertThat(data.isEndStream()).isFalse();
        Http2HeadersFrame trailers = (Http2HeadersFrame) caller.frames.get(2);
        assertThat(trailers.isEndStream()).isTrue();
        assertThat(trailers.headers().get("grpc-status").toString()).isEqualTo("0");
        assertThat(s.state()).isEqualTo(Http2Stream.State.CLOSED);
    }
}
