package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2ChannelDuplexHandler;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link io.netty.handler.codec.http2.WardHttp2ConnectionEncoder}'s DATA frames between two real HTTP/2 codecs, bytes handed
 * across in memory: sent as the caller's window allows, the writer's future completed with the
 * last of its bytes, and what a reset stream still held failed and released.
 */
class WardHttp2ConnectionEncoderTest {

    /** The listener's side: records the streams the caller opens, so the test can answer on them. */
    static final class Server extends Http2ChannelDuplexHandler {
        final List<Http2FrameStream> opened = new ArrayList<>();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof Http2HeadersFrame h) {
                opened.add(h.stream());
            }
            ReferenceCountUtil.release(msg);
        }
    }

    final Http2FrameCodec serverCodec = H2Peers.frameCodec(true, Http2Settings.defaultSettings());
    final Server serverSide = new Server();
    final EmbeddedChannel server = new EmbeddedChannel(serverCodec, serverSide);
    final Http2StreamsTest.Caller caller = new Http2StreamsTest.Caller();
    EmbeddedChannel client;

    /** A caller whose streams take {@code window} bytes before it gives some back; opens one stream. */
    Http2FrameStream connectAndRequest(int window) {
        client = new EmbeddedChannel(H2Peers.frameCodec(false, Http2Settings.defaultSettings().initialWindowSize(window)), caller);
        pump();
        Http2FrameStream s = caller.open();
        client.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().method("GET").path("/").scheme("https")
                .authority("orders"), true).stream(s));
        pump();
        assertThat(serverSide.opened).hasSize(1);
        server.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200")).stream(serverSide.opened.get(0)));
        pump();
        return s;
    }

    void pump() {
        InMemoryWire.pump(client, server);
    }

    ChannelFuture data(ByteBuf content, boolean end) {
        ChannelFuture f = server.write(new DefaultHttp2DataFrame(content, end).stream(serverSide.opened.get(0)));
        server.flush();
        pump();
        return f;
    }

    static ByteBuf counting(int n, int from) {
        ByteBuf b = Unpooled.buffer(n);
        for (int i = 0; i < n; i++) {
            b.writeByte(from + i);
        }
        return b;
    }

    /** The DATA frames the caller got: their sizes, and their bytes joined. */
    List<Integer> dataSizes() {
        return caller.frames.stream().filter(f -> f instanceof Http2DataFrame).map(f -> ((Http2DataFrame) f).content().readableBytes()).toList();
    }

    String dataBytes() {
        StringBuilder sb = new StringBuilder();
        caller.frames.stream().filter(f -> f instanceof Http2DataFrame).forEach(f -> sb.append(ByteBufUtil.hexDump(((Http2DataFrame) f).content())));
        return sb.toString();
    }

    void giveBack(Http2FrameStream s, int n) {
        client.writeAndFlush(new DefaultHttp2WindowUpdateFrame(n).stream(s));
        pump();
    }

    @AfterEach
    void close() {
        caller.frames.forEach(ReferenceCountUtil::release);
        client.finishAndReleaseAll();
        server.finishAndReleaseAll();
    }

    @Test
    void aFrameLargerThanTheWindowGoesInSlicesAndItsFutureCompletesWithTheLast() {
        Http2FrameStream s = connectAndRequest(16);
        ByteBuf first = counting(40, 0);
        ByteBuf second = counting(4, 100);
        ChannelFuture f1 = data(first, false);
        ChannelFuture f2 = data(second, true);
        assertThat(dataSizes()).containsExactly(16);
        assertThat(f1.isDone()).as("24 of its bytes wait for window").isFalse();
        assertThat(f2.isDone()).isFalse();

        giveBack(s, 16);
        assertThat(dataSizes()).containsExactly(16, 16);
        assertThat(f1.isDone()).isFalse();

        // The last 8 bytes of the first, then the second (4 bytes, ending the stream) as a frame of its own:
        // Netty's encoder would have merged the two into one frame of 12 (this shows the encoder is Ward's).
        giveBack(s, 16);
        assertThat(dataSizes()).containsExactly(16, 16, 8, 4);
        assertThat(f1.isSuccess()).isTrue();
        assertThat(f2.isSuccess()).isTrue();
        assertThat(dataBytes()).isEqualTo(ByteBufUtil.hexDump(counting(40, 0)) + ByteBufUtil.hexDump(counting(4, 100)));
        assertThat(((Http2DataFrame) caller.frames.get(caller.frames.size() - 1)).isEndStream()).isTrue();
        assertThat(first.refCnt()).as("written and released by the wire").isZero();
        assertThat(second.refCnt()).isZero();
        assertThat(serverCodec.connection().stream(s.id())).as("ended both ways: closed").isNull();
    }

    @Test
    void aFrameWithAVoidPromiseGoesWithoutOneAndClosesItsStreamAsItsLastBytesAreWritten() {
        Http2FrameStream s = connectAndRequest(16);
        List<Boolean> voidWrites = new ArrayList<>();
        server.pipeline().addFirst(new ChannelOutboundHandlerAdapter() {
            @Override
            public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
                voidWrites.add(promise.isVoid());
                ctx.write(msg, promise);
            }
        });
        ByteBuf body = counting(40, 0);
        server.write(new DefaultHttp2DataFrame(body, true).stream(serverSide.opened.get(0)), server.voidPromise());
        server.flush();
        pump();
        assertThat(dataSizes()).containsExactly(16);
        giveBack(s, 16);
        assertThat(serverCodec.connection().stream(s.id())).as("8 bytes still wait for window").isNotNull();
        giveBack(s, 16);
        assertThat(dataSizes()).containsExactly(16, 16, 8);
        assertThat(((Http2DataFrame) caller.frames.get(caller.frames.size() - 1)).isEndStream()).isTrue();
        assertThat(dataBytes()).isEqualTo(ByteBufUtil.hexDump(counting(40, 0)));
        assertThat(serverCodec.connection().stream(s.id())).as("ended both ways: closed").isNull();
        assertThat(voidWrites).as("each slice written with the void promise, none made for it").isNotEmpty().containsOnly(true);
        assertThat(body.refCnt()).isZero();
    }

    @Test
    void whatAResetStreamStillHeldFailsItsFutureAndIsReleased() {
        Http2FrameStream s = connectAndRequest(16);
        ByteBuf body = counting(40, 0);
        ChannelFuture f = data(body, true);
        assertThat(dataSizes()).containsExactly(16);

        client.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.CANCEL).stream(s));
        pump();
        assertThat(f.isDone()).isTrue();
        assertThat(f.isSuccess()).isFalse();
        assertThat(body.refCnt()).as("the 24 bytes not sent are released").isZero();
        assertThat(server.isActive()).as("a reset stream is not the connection's end").isTrue();
    }

    @Test
    void anEmptyFrameEndsTheStream() {
        Http2FrameStream s = connectAndRequest(65_535);
        ChannelFuture f = data(Unpooled.buffer(0), true);
        assertThat(f.isSuccess()).isTrue();
        assertThat(dataSizes()).containsExactly(0);
        assertThat(((Http2DataFrame) caller.frames.get(caller.frames.size() - 1)).isEndStream()).isTrue();
        assertThat(serverCodec.connection().stream(s.id())).isNull();
    }

    @Test
    void aFrameOnAStreamThatHasEndedFailsAsNettysEncoderFailsIt() {
        Http2FrameStream s = connectAndRequest(65_535);
        Http2Stream st = serverCodec.connection().stream(s.id());
        assertThat(st.state()).isEqualTo(Http2Stream.State.HALF_CLOSED_REMOTE);
        assertThat(data(counting(4, 0), true).isSuccess()).isTrue();
        ByteBuf late = counting(4, 0);
        ChannelFuture f = server.writeAndFlush(new DefaultHttp2DataFrame(late, true).stream(serverSide.opened.get(0)));
        assertThat(f.isSuccess()).isFalse();
        assertThat(late.refCnt()).isZero();
    }
}
