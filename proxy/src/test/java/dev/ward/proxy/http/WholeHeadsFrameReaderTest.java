package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2FrameReader;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersDecoder;
import io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Flags;
import io.netty.handler.codec.http2.Http2FrameAdapter;
import io.netty.handler.codec.http2.Http2FrameReader;
import io.netty.handler.codec.http2.Http2FrameTypes;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersEncoder;
import io.netty.handler.codec.http2.Http2Settings;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link WholeHeadsFrameReader} against Netty's {@link DefaultHttp2FrameReader}: the same bytes,
 * cut at random places, give the same frames to the listener and the same errors, in the same
 * order, with the HPACK state of each side carried from frame to frame.
 */
class WholeHeadsFrameReaderTest {

    /** What a reader hands its listener, and what it throws, as text. */
    static final class Recorder extends Http2FrameAdapter {
        final List<String> events = new ArrayList<>();

        @Override
        public int onDataRead(ChannelHandlerContext ctx, int streamId, ByteBuf data, int padding, boolean endOfStream) {
            events.add("DATA " + streamId + " " + ByteBufUtil.hexDump(data) + " pad=" + padding + " end=" + endOfStream);
            return data.readableBytes() + padding;
        }

        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int padding, boolean endStream) {
            events.add("HEADERS " + streamId + " " + text(headers) + " pad=" + padding + " end=" + endStream);
        }

        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int dependency, short weight,
                boolean exclusive, int padding, boolean endStream) {
            events.add("HEADERS " + streamId + " " + text(headers) + " dep=" + dependency + " w=" + weight + " x=" + exclusive
                    + " pad=" + padding + " end=" + endStream);
        }

        @Override
        public void onSettingsRead(ChannelHandlerContext ctx, Http2Settings settings) {
            events.add("SETTINGS " + settings);
        }

        @Override
        public void onPingRead(ChannelHandlerContext ctx, long data) {
            events.add("PING " + data);
        }

        @Override
        public void onRstStreamRead(ChannelHandlerContext ctx, int streamId, long errorCode) {
            events.add("RST " + streamId + " " + errorCode);
        }

        @Override
        public void onWindowUpdateRead(ChannelHandlerContext ctx, int streamId, int increment) {
            events.add("WINDOW_UPDATE " + streamId + " " + increment);
        }

        @Override
        public void onPriorityRead(ChannelHandlerContext ctx, int streamId, int dependency, short weight, boolean exclusive) {
            events.add("PRIORITY " + streamId + " " + dependency + " " + weight + " " + exclusive);
        }

        @Override
        public void onUnknownFrame(ChannelHandlerContext ctx, byte frameType, int streamId, Http2Flags flags, ByteBuf payload) {
            events.add("UNKNOWN " + frameType + " " + streamId + " " + flags.value() + " " + ByteBufUtil.hexDump(payload));
        }

        private static String text(Http2Headers headers) {
            StringBuilder b = new StringBuilder("[");
            for (Map.Entry<CharSequence, CharSequence> e : headers) {
                b.append(e.getKey()).append(": ").append(e.getValue()).append(", ");
            }
            return b.append(']').toString();
        }
    }

    /** One reader and what it has seen, fed as a connection's {@code ByteToMessageDecoder} feeds it. */
    static final class Side {
        final Http2FrameReader reader;
        final Recorder recorder = new Recorder();
        final ByteBuf cumulation = Unpooled.buffer();

        Side(Http2FrameReader reader) {
            this.reader = reader;
        }

        void feed(ChannelHandlerContext ctx, ByteBuf chunk) {
            cumulation.writeBytes(chunk, chunk.readerIndex(), chunk.readableBytes());
            int written = cumulation.writerIndex();
            while (cumulation.isReadable()) {
                int before = cumulation.readableBytes();
                try {
                    reader.readFrame(ctx, cumulation, recorder);
                } catch (Http2Exception e) {
                    // The message, less a description of the buffer read (a slice of the frame in Netty's reader).
                    String message = String.valueOf(e.getMessage()).replaceAll("\\S*ByteBuf\\(.*$", "<buffer>");
                    recorder.events.add("ERROR " + e.error() + " stream=" + Http2Exception.isStreamError(e) + " " + message);
                    break; // as the decoder's exception ends the pass; the rest waits for the next read
                } catch (RuntimeException e) {
                    recorder.events.add("ERROR " + e);
                    break;
                }
                assertThat(cumulation.writerIndex()).as("the buffer's writer index").isEqualTo(written);
                if (before == cumulation.readableBytes()) {
                    break;
                }
            }
            cumulation.discardReadBytes();
        }
    }

    private static Http2Headers randomHead(Random random) {
        Http2Headers h = new DefaultHttp2Headers(false);
        if (random.nextBoolean()) {
            h.method("GET").scheme("https").path("/orders/" + random.nextInt(100)).authority("orders");
        } else {
            h.status(String.valueOf(200 + random.nextInt(4)));
        }
        int extra = random.nextInt(5);
        for (int i = 0; i < extra; i++) {
            h.add("x-h" + random.nextInt(4), "v" + random.nextInt(1000));
        }
        if (random.nextInt(10) == 0) {
            h.add("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0" + random.nextInt(2));
        }
        if (random.nextInt(25) == 0) {
            h.add("Upper-Case", "refused by the decoder's check");
        }
        if (random.nextInt(25) == 0) {
            // Over the list size (4 KiB): a stream error; over the size at which the block itself ends the connection (5 KiB): not decoded at all.
            h.add("x-big", "y".repeat(random.nextBoolean() ? 4_500 : 6_000));
        }
        return h;
    }

    private static void frame(ByteBuf out, int length, int type, int flags, int streamId) {
        out.writeMedium(length).writeByte(type).writeByte(flags).writeInt(streamId);
    }

    /** A random sequence of frames, valid and not, as a peer could send them. */
    private static ByteBuf randomFrames(Random random, Http2HeadersEncoder encoder) throws Http2Exception {
        ByteBuf out = Unpooled.buffer();
        int frames = 1 + random.nextInt(12);
        for (int i = 0; i < frames; i++) {
            int streamId = random.nextInt(20) == 0 ? 0 : 1 + 2 * random.nextInt(50);
            int kind = random.nextInt(14);
            switch (kind) {
                case 0, 1, 2, 3, 4 -> { // a whole head, the common case; now and then padded or with a priority
                    ByteBuf block = Unpooled.buffer();
                    encoder.encodeHeaders(streamId, randomHead(random), block);
                    int flags = 0x4 | (random.nextBoolean() ? 0x1 : 0);
                    int pad = -1;
                    boolean priority = random.nextInt(6) == 0;
                    if (random.nextInt(6) == 0) {
                        pad = random.nextInt(4);
                        flags |= 0x8;
                    }
                    if (priority) {
                        flags |= 0x20;
                    }
                    int length = block.readableBytes() + (pad >= 0 ? 1 + pad : 0) + (priority ? 5 : 0);
                    frame(out, length, Http2FrameTypes.HEADERS, flags, streamId);
                    if (pad >= 0) {
                        out.writeByte(pad);
                    }
                    if (priority) {
                        out.writeInt(random.nextInt(10)).writeByte(random.nextInt(256));
                    }
                    out.writeBytes(block);
                    if (pad > 0) {
                        out.writeZero(pad);
                    }
                    block.release();
                }
                case 5 -> { // a head in pieces: HEADERS then CONTINUATIONs, sometimes interrupted
                    ByteBuf block = Unpooled.buffer();
                    encoder.encodeHeaders(streamId, randomHead(random), block);
                    int first = random.nextInt(block.readableBytes() + 1);
                    frame(out, first, Http2FrameTypes.HEADERS, random.nextBoolean() ? 0x1 : 0, streamId);
                    out.writeBytes(block, first);
                    if (random.nextInt(5) == 0) {
                        frame(out, 8, Http2FrameTypes.PING, 0, 0);
                        out.writeLong(7);
                    }
                    while (block.isReadable()) {
                        int n = Math.min(block.readableBytes(), 1 + random.nextInt(8));
                        boolean last = n == block.readableBytes();
                        frame(out, n, Http2FrameTypes.CONTINUATION, last ? 0x4 : 0, random.nextInt(8) == 0 ? streamId + 2 : streamId);
                        out.writeBytes(block, n);
                    }
                    block.release();
                }
                case 6 -> { // DATA, sometimes padded
                    int n = random.nextInt(40);
                    int flags = random.nextBoolean() ? 0x1 : 0;
                    if (random.nextInt(4) == 0) {
                        int pad = random.nextInt(5);
                        frame(out, n + 1 + pad, Http2FrameTypes.DATA, flags | 0x8, streamId);
                        out.writeByte(pad);
                        out.writeZero(n + pad);
                    } else {
                        frame(out, n, Http2FrameTypes.DATA, flags, streamId);
                        for (int b = 0; b < n; b++) {
                            out.writeByte(random.nextInt(256));
                        }
                    }
                }
                case 7 -> {
                    frame(out, 6, Http2FrameTypes.SETTINGS, 0, 0);
                    out.writeShort(4).writeInt(65_535 + random.nextInt(1000));
                }
                case 8 -> {
                    frame(out, 8, Http2FrameTypes.PING, random.nextBoolean() ? 0x1 : 0, random.nextInt(10) == 0 ? 3 : 0);
                    out.writeLong(random.nextLong());
                }
                case 9 -> {
                    frame(out, 4, Http2FrameTypes.WINDOW_UPDATE, 0, random.nextBoolean() ? 0 : streamId);
                    out.writeInt(random.nextInt(100_000));
                }
                case 10 -> {
                    frame(out, 4, Http2FrameTypes.RST_STREAM, 0, streamId);
                    out.writeInt(random.nextInt(14));
                }
                case 11 -> { // a CONTINUATION with no head before it, or an unknown frame type
                    if (random.nextBoolean()) {
                        frame(out, 1, Http2FrameTypes.CONTINUATION, 0x4, streamId);
                        out.writeByte(0x82);
                    } else {
                        frame(out, 3, 0x42, random.nextInt(256), streamId);
                        out.writeMedium(0x010203);
                    }
                }
                case 12 -> { // a head whose HPACK block is garbage
                    int n = 1 + random.nextInt(12);
                    frame(out, n, Http2FrameTypes.HEADERS, 0x4 | 0x1, streamId);
                    for (int b = 0; b < n; b++) {
                        out.writeByte(random.nextInt(256));
                    }
                }
                default -> { // a frame longer than the maximum frame size
                    if (random.nextInt(4) == 0) {
                        frame(out, 16_385, random.nextBoolean() ? Http2FrameTypes.HEADERS : Http2FrameTypes.DATA, 0x4, streamId);
                        out.writeZero(16_385);
                    } else {
                        frame(out, 5, Http2FrameTypes.PRIORITY, 0, streamId);
                        out.writeInt(random.nextInt(7)).writeByte(random.nextInt(256));
                    }
                }
            }
        }
        return out;
    }

    private static DefaultHttp2HeadersDecoder decoder() {
        return new DefaultHttp2HeadersDecoder(true, true, 4096); // Netty's checks on; a list of 4 KiB at most
    }

    @Test
    void readsWhatNettysReaderReadsCutAnywhere() throws Exception {
        EmbeddedChannel channel = new EmbeddedChannel(new ChannelInboundHandlerAdapter());
        ChannelHandlerContext ctx = channel.pipeline().firstContext();
        Random random = new Random(42);
        int fastHeads = 0;
        java.util.Set<String> errors = new java.util.TreeSet<>();
        for (int run = 0; run < 2_000; run++) {
            Http2HeadersEncoder encoder = new DefaultHttp2HeadersEncoder(Http2HeadersEncoder.NEVER_SENSITIVE, false, 64);
            Side ours = new Side(new WholeHeadsFrameReader(decoder()));
            Side netty = new Side(new DefaultHttp2FrameReader(decoder()));
            int connections = 1 + random.nextInt(3);
            for (int c = 0; c < connections; c++) { // several sequences on one connection: HPACK state carried over
                ByteBuf bytes = randomFrames(random, encoder);
                while (bytes.isReadable()) {
                    int n = random.nextInt(3) == 0 ? bytes.readableBytes() : Math.min(bytes.readableBytes(), 1 + random.nextInt(40));
                    ByteBuf chunk = bytes.readSlice(n);
                    ours.feed(ctx, chunk);
                    netty.feed(ctx, chunk);
                }
                bytes.release();
            }
            assertThat(ours.recorder.events).as("run %d", run).isEqualTo(netty.recorder.events);
            ours.recorder.events.stream().filter(e -> e.startsWith("ERROR")).forEach(e -> errors.add(e.replaceAll("[0-9]+", "N")));
            fastHeads += (int) ours.recorder.events.stream().filter(e -> e.startsWith("HEADERS") && !e.contains(" dep=")).count();
            ours.reader.close();
            netty.reader.close();
        }
        assertThat(fastHeads).as("whole heads without priority among the frames (the fast path's kind)").isGreaterThan(2_000);
        // Both kinds of error came up: the stream's (reading goes on) and the connection's (what follows is skipped).
        assertThat(errors).anyMatch(e -> e.contains("stream=true invalid header name"))
                .anyMatch(e -> e.contains("stream=false HPACK"))
                .anyMatch(e -> e.contains("stream=false Received frame of type N while processing headers"));
        channel.finishAndReleaseAll();
    }

    @Test
    void readsAWholeHeadAndABodyInPlaceAndLeavesTheBufferAsItWas() throws Exception {
        EmbeddedChannel channel = new EmbeddedChannel(new ChannelInboundHandlerAdapter());
        ChannelHandlerContext ctx = channel.pipeline().firstContext();
        ByteBuf block = Unpooled.buffer();
        new DefaultHttp2HeadersEncoder().encodeHeaders(3, new DefaultHttp2Headers().method("GET").path("/a").scheme("https"), block);
        ByteBuf in = Unpooled.buffer();
        frame(in, block.readableBytes(), Http2FrameTypes.HEADERS, 0x4 | 0x1, 3);
        in.writeBytes(block);
        frame(in, 3, Http2FrameTypes.DATA, 0x1, 5); // a body, read in place too
        in.writeBytes(new byte[] {1, 2, 3});
        frame(in, 8, Http2FrameTypes.PING, 0, 0); // and half of the next frame
        in.writeInt(1);
        Recorder recorder = new Recorder();
        int writerIndex = in.writerIndex();
        DefaultHttp2HeadersDecoder decoder = decoder();
        int[] nettyReads = {0};
        DefaultHttp2FrameReader netty = new DefaultHttp2FrameReader(decoder) {
            @Override
            public void readFrame(ChannelHandlerContext c, ByteBuf input, io.netty.handler.codec.http2.Http2FrameListener l)
                    throws Http2Exception {
                nettyReads[0]++;
                super.readFrame(c, input, l);
            }
        };
        WholeHeadsFrameReader reader = new WholeHeadsFrameReader(decoder, netty);
        reader.readFrame(ctx, in, recorder);
        assertThat(recorder.events).containsExactly("HEADERS 3 [:method: GET, :path: /a, :scheme: https, ] pad=0 end=true",
                "DATA 5 010203 pad=0 end=true");
        assertThat(nettyReads[0]).as("the whole head and the body were read without Netty's reader").isZero();
        assertThat(in.refCnt()).as("the body's slice released once handed on").isEqualTo(1);
        assertThat(in.writerIndex()).isEqualTo(writerIndex);
        assertThat(in.readableBytes()).as("the partial PING waits").isEqualTo(9 + 4);
        in.writeInt(2); // the rest of the PING: Netty's reader's
        reader.readFrame(ctx, in, recorder);
        assertThat(recorder.events).last().isEqualTo("PING " + ((1L << 32) | 2));
        assertThat(nettyReads[0]).isEqualTo(1);
        block.release();
        in.release();
        channel.finishAndReleaseAll();
    }
}
