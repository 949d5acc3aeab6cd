package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2FrameWriter;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2FrameWriter;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersEncoder;
import io.netty.handler.codec.http2.WardHttp2FrameWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.Test;

/** Ward's frame writer puts the same bytes on the wire as Netty's, in fewer writes. */
class WardHttp2FrameWriterTest {

    private static final Http2HeadersEncoder.SensitivityDetector NEVER = Http2HeadersEncoder.NEVER_SENSITIVE;

    /** What one writer wrote: each buffer written, as hex, and the futures it returned. */
    private record Written(List<String> writes, List<ChannelFuture> futures, List<ByteBuf> inputs) {
        String bytes() {
            return String.join("", writes);
        }
    }

    private static Written run(Http2FrameWriter writer, BiConsumer<Http2FrameWriter, Script> script) {
        EmbeddedChannel ch = new EmbeddedChannel(new ChannelOutboundHandlerAdapter());
        ChannelHandlerContext ctx = ch.pipeline().firstContext();
        Script s = new Script(writer, ctx);
        script.accept(writer, s);
        ch.flush();
        List<String> writes = new ArrayList<>();
        for (Object m; (m = ch.readOutbound()) != null; ) {
            ByteBuf b = (ByteBuf) m;
            writes.add(ByteBufUtil.hexDump(b));
            b.release();
        }
        ch.finishAndReleaseAll();
        return new Written(writes, s.futures, s.inputs);
    }

    /** The frames to write, the same for both writers. */
    private static final class Script {
        final Http2FrameWriter writer;
        final ChannelHandlerContext ctx;
        final List<ChannelFuture> futures = new ArrayList<>();
        final List<ByteBuf> inputs = new ArrayList<>();

        Script(Http2FrameWriter writer, ChannelHandlerContext ctx) {
            this.writer = writer;
            this.ctx = ctx;
        }

        void headers(int stream, Http2Headers h, boolean end) {
            futures.add(writer.writeHeaders(ctx, stream, h, 0, end, ctx.newPromise()));
        }

        void data(int stream, int length, int padding, boolean end) {
            byte[] bytes = new byte[length];
            for (int i = 0; i < length; i++) {
                bytes[i] = (byte) (i * 31 + stream);
            }
            ByteBuf data = Unpooled.buffer(length).writeBytes(bytes); // not wrappedBuffer: it gives the unreleasable empty buffer for 0 bytes
            inputs.add(data);
            futures.add(writer.writeData(ctx, stream, data, padding, end, ctx.newPromise()));
        }
    }

    private static Http2Headers request(String path) {
        return new DefaultHttp2Headers().method("GET").scheme("https").authority("orders.shop:443").path(path)
                .add("user-agent", "test/1").add("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    }

    private static Http2Headers response(int bodyLength) {
        return new DefaultHttp2Headers().status("200").add("content-type", "text/plain")
                .add("content-length", Integer.toString(bodyLength));
    }

    private static final BiConsumer<Http2FrameWriter, Script> EXCHANGES = (w, s) -> {
        s.headers(3, request("/a"), true);
        s.headers(3, response(20), false);
        s.data(3, 20, 0, true);
        s.headers(5, request("/b?q=1"), false); // the encoder's dynamic table carries over: indexed fields now
        s.data(5, 0, 0, true); // an empty DATA frame that ends the stream
        s.headers(7, response(WardHttp2FrameWriter.COPY_DATA_MAX), false);
        s.data(7, WardHttp2FrameWriter.COPY_DATA_MAX, 0, false); // the largest copied
        s.data(7, WardHttp2FrameWriter.COPY_DATA_MAX + 1, 0, false); // Netty's: header and data apart
        s.data(7, 40_000, 0, false); // Netty's: split at the largest frame
        s.data(7, 10, 5, false); // padded: Netty's
        s.headers(7, new DefaultHttp2Headers().add("grpc-status", "0"), true); // trailers
    };

    @Test
    void sameBytesAsNettysWriterInFewerWrites() {
        Written netty = run(new DefaultHttp2FrameWriter(WardHttp2FrameWriter.headersEncoder(NEVER)), EXCHANGES);
        Written ward = run(new WardHttp2FrameWriter(NEVER), EXCHANGES);

        assertThat(ward.bytes()).isEqualTo(netty.bytes());
        // Netty: 2 writes per HEADERS frame, 2 per DATA frame (the padded one 3, the 40,000 B one 6);
        // Ward: 1 per HEADERS frame and per DATA frame of up to 1 KiB.
        assertThat(netty.writes()).hasSize(2 * 5 + 2 * 3 + 2 + 6 + 3);
        assertThat(ward.writes()).hasSize(5 + 3 + 2 + 6 + 3);
        // The first frame: a HEADERS frame (type 1) with END_STREAM and END_HEADERS (0x5) on stream 3, in one buffer.
        assertThat(ward.writes().get(0)).startsWith(String.format("%06x", ward.writes().get(0).length() / 2 - 9) + "01" + "05" + "00000003");
        for (ChannelFuture f : ward.futures()) {
            assertThat(f.isSuccess()).as("every write's future succeeds").isTrue();
        }
        for (ByteBuf in : ward.inputs()) {
            assertThat(in.refCnt()).as("the caller's data is released once written: input " + ward.inputs().indexOf(in) + " of " + in.capacity() + " B").isZero();
        }
    }

    @Test
    void aHeaderBlockLargerThanOneFrameGoesOutAsHeadersAndContinuationsAsNettysDoes() {
        String big = "v".repeat(40_000); // 3 frames at the default 16 KiB largest frame
        BiConsumer<Http2FrameWriter, Script> script = (w, s) -> {
            s.headers(9, response(0).add("x-big", big), false);
            s.headers(9, new DefaultHttp2Headers().add("x-after", "1"), true);
        };
        Written netty = run(new DefaultHttp2FrameWriter(WardHttp2FrameWriter.headersEncoder(NEVER)), script);
        Written ward = run(new WardHttp2FrameWriter(NEVER), script);

        assertThat(ward.bytes()).isEqualTo(netty.bytes());
        assertThat(ward.futures()).allSatisfy(f -> assertThat(f.isSuccess()).isTrue());
        // HEADERS with its first 16,384 bytes (no END_HEADERS), then CONTINUATIONs (type 9), the last with END_HEADERS.
        assertThat(ward.writes().get(0)).startsWith("004000" + "01" + "00" + "00000009");
        assertThat(ward.bytes()).contains("004000" + "09" + "00" + "00000009");
    }

    @Test
    void aWriteOnAClosedConnectionFailsItsFutureAndReleasesTheData() {
        EmbeddedChannel ch = new EmbeddedChannel(new ChannelOutboundHandlerAdapter());
        ChannelHandlerContext ctx = ch.pipeline().firstContext();
        ch.close();
        WardHttp2FrameWriter w = new WardHttp2FrameWriter(NEVER);
        ByteBuf data = Unpooled.copiedBuffer(new byte[20]);
        ChannelFuture d = w.writeData(ctx, 3, data, 0, true, ctx.newPromise());
        ChannelFuture h = w.writeHeaders(ctx, 3, response(20), 0, false, ctx.newPromise());

        assertThat(d.isDone() && !d.isSuccess()).isTrue();
        assertThat(h.isDone() && !h.isSuccess()).isTrue();
        assertThat(data.refCnt()).isZero();
    }

    @Test
    void anInvalidStreamIdFailsAsNettysWriterFailsIt() {
        EmbeddedChannel ch = new EmbeddedChannel(new ChannelOutboundHandlerAdapter());
        ChannelHandlerContext ctx = ch.pipeline().firstContext();
        WardHttp2FrameWriter w = new WardHttp2FrameWriter(NEVER);
        ByteBuf data = Unpooled.copiedBuffer(new byte[20]);
        ChannelFuture f = w.writeData(ctx, 0, data, 0, true, ctx.newPromise());

        assertThat(f.isDone() && !f.isSuccess()).isTrue();
        assertThat(f.cause()).hasMessageContaining("Stream ID");
        assertThat((Object) ch.readOutbound()).isNull();
        ch.finishAndReleaseAll();
    }

    /** A literal of 512 characters or more goes as it is: Netty's own encoder would Huffman-code it. */
    @Test
    void longLiteralsAreNotHuffmanCoded() throws Exception {
        String token = "Bearer " + "v".repeat(600);
        BiConsumer<Http2FrameWriter, Script> script = (w, s) -> s.headers(3, response(0).add("authorization", token), true);
        Written ward = run(new WardHttp2FrameWriter((name, value) -> true), script); // never indexed, as a credential
        Written huffman = run(new DefaultHttp2FrameWriter((name, value) -> true), script); // Netty's own encoder
        assertThat(ward.bytes().length() / 2).as("the frame carries the token as its bytes").isGreaterThan(token.length() + 9)
                .isGreaterThan(huffman.bytes().length() / 2 + 50);
        ByteBuf block = Unpooled.wrappedBuffer(ByteBufUtil.decodeHexDump(ward.bytes().substring(18)));
        assertThat(new io.netty.handler.codec.http2.DefaultHttp2HeadersDecoder().decodeHeaders(3, block).get("authorization").toString())
                .isEqualTo(token);
    }
}
