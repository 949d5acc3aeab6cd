package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ward.proxy.config.SidecarConfig;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersEncoder;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.nio.charset.StandardCharsets;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

class HttpPipelinesTest {

    final SidecarConfig.Limits limits = new SidecarConfig.Limits(null, null, null, null, null, null, null);
    final Supplier<ProxyHandler> handler = () -> new ProxyHandler((c, r) -> null, false, "test", new Drain(), telemetry());

    @Test
    void http2ConnectionsGetWideReceiveWindows() {
        EmbeddedChannel ch = new EmbeddedChannel();
        HttpPipelines.http2(ch.pipeline(), limits, handler);
        Http2Streams codec = ch.pipeline().get(Http2Streams.class);
        var local = codec.connection().local().flowController();
        assertThat(local.windowSize(codec.connection().connectionStream())).isEqualTo(HttpPipelines.H2_CONNECTION_WINDOW);
        // The SETTINGS sent (applied once the peer acknowledges them).
        assertThat(codec.encoder().pollSentSettings().initialWindowSize()).isEqualTo(HttpPipelines.H2_STREAM_WINDOW);
        ch.finishAndReleaseAll();
    }

    @Test
    void http2CodecsKnowTheirSideAndShareTheSendWindowInTurn() throws Exception {
        Http2Streams server = H2Peers.server(Http2Settings.defaultSettings(), () -> null);
        Http2Streams client = HttpPipelines.h2ClientStreams(8192);
        assertThat(server.connection().isServer()).isTrue();
        assertThat(client.connection().isServer()).isFalse();
        for (Http2Streams c : List.of(server, client)) {
            var flow = c.connection().remote().flowController();
            assertThat(flow).isInstanceOf(CompactRemoteFlowController.class);
            var distributor = CompactRemoteFlowController.class.getDeclaredField("distributor");
            distributor.setAccessible(true);
            assertThat(distributor.get(flow)).isInstanceOf(TakeTurnsDistributor.class);
        }
    }

    @Test
    void cleartextListenersTellHttp2PriorKnowledgeFromHttp11() {
        EmbeddedChannel h2 = new EmbeddedChannel();
        HttpPipelines.cleartext(h2.pipeline(), limits, handler, handler);
        // The preface arrives in two pieces: nothing is decided on the first.
        h2.writeInbound(Unpooled.copiedBuffer("PRI * HTTP/2.0\r\n", StandardCharsets.US_ASCII));
        assertThat(h2.pipeline().get("protocol")).isNotNull();
        h2.writeInbound(Unpooled.copiedBuffer("\r\nSM\r\n\r\n", StandardCharsets.US_ASCII));
        assertThat(h2.pipeline().get("protocol")).isNull();
        assertThat(h2.pipeline().get(Http2Streams.class)).isNotNull();
        assertThat(h2.pipeline().get(Http1ServerCodec.class)).isNull();
        h2.finishAndReleaseAll();

        EmbeddedChannel h1 = new EmbeddedChannel();
        HttpPipelines.cleartext(h1.pipeline(), limits, handler, handler);
        h1.writeInbound(Unpooled.copiedBuffer("PUT / HTTP/1.1\r\n", StandardCharsets.US_ASCII)); // starts like the preface, then differs
        assertThat(h1.pipeline().get(Http1ServerCodec.class)).isNotNull();
        assertThat(h1.pipeline().get(Http2Streams.class)).isNull();
        h1.finishAndReleaseAll();
    }

    /** Header fields a peer could send to smuggle a second header or line into the HTTP/1.1 hop: each must be refused. */
    private static final String[][] BAD_FIELDS = {
        {"x-a", "1\r\nx-injected: 2"}, {"x-a", "1\nx-injected: 2"}, {"x-a", "1\rx"}, {"x-a", "nul\0byte"}, {"x-a", "bell\u0007"},
        {"X-Upper", "1"}, {"x a", "1"}, {"x:a", "1"}, {":bogus", "1"}, {":path", "/again"},
    };

    /**
     * A header block with a CR, LF, NUL or other control in a value, or a name that is not a
     * lower-case token, is refused by the listener's codec (the stream reset, PROTOCOL_ERROR) before
     * any stream sees it: {@link HeadsToHttp2} copies HTTP/2 headers to HTTP/1.1 without checking
     * them again, on the strength of this. The same connection then routes a good request.
     */
    @Test
    void aListenerResetsAStreamWhoseHeadCarriesAControlCharacterOrABadNameBeforeAnyStreamSeesIt() throws Exception {
        List<HttpRequest> routed = new CopyOnWriteArrayList<>();
        EmbeddedChannel ch = new EmbeddedChannel();
        HttpPipelines.http2(ch.pipeline(), limits, () -> new ProxyHandler((c, r) -> {
            routed.add(r);
            return new Route.Reply(HttpResponseStatus.NO_CONTENT, "test", "routed", Map.of());
        }, true, "test", new Drain(), telemetry()));
        ByteBuf hello = Unpooled.buffer();
        hello.writeBytes(Http2CodecUtil.connectionPrefaceBuf());
        frameHeader(hello, 0, 0x4, 0, 0); // SETTINGS: the defaults
        ch.writeInbound(hello);
        frames(ch);
        Http2HeadersEncoder encoder = new DefaultHttp2HeadersEncoder((name, value) -> true, false); // all literals: no table state
        int id = 3; // stream 1 is an h2c upgrade's on an embedded channel
        for (String[] bad : BAD_FIELDS) {
            Http2Headers h = new DefaultHttp2Headers(false).method("GET").path("/").scheme("https").authority("orders").add(bad[0], bad[1]);
            ch.writeInbound(headersFrame(encoder, id, h, false));
            int reset = id;
            assertThat(frames(ch)).as("%s: %s", bad[0], bad[1].replace("\r", "\\r").replace("\n", "\\n"))
                    .anySatisfy(f -> assertThat(f).containsExactly(0x3, reset, (int) Http2Error.PROTOCOL_ERROR.code()));
            id += 2;
        }
        assertThat(routed).as("no bad head reached a stream").isEmpty();

        ch.writeInbound(headersFrame(encoder, id, new DefaultHttp2Headers().method("GET").path("/").scheme("https").authority("orders")
                .add("x-a", "fine\tstill fine"), true));
        List<int[]> answer = frames(ch);
        assertThat(routed).hasSize(1);
        assertThat(routed.get(0).headers().get("x-a")).isEqualTo("fine\tstill fine");
        assertThat(routed.get(0).headers().get("host")).isEqualTo("orders");
        assertThat(answer).as("a HEADERS frame answers the good request").anySatisfy(f -> assertThat(f[0]).isEqualTo(0x1));
        ch.finishAndReleaseAll();
    }

    /**
     * The received head is decoded into Ward's own map ({@link CompactHttp2Headers}), and the codec
     * Ward assembles for that keeps Netty's guards on what it sends: a listener that has reset 200
     * streams within 30 s closes the connection (ENHANCE_YOUR_CALM) at the 201st.
     */
    @Test
    void aListenerDecodesHeadsIntoWardsMapAndClosesAConnectionThatMadeItReset201Streams() throws Exception {
        // Ward's decoder, behind Netty's frame codec so that the decoded head can be seen as a frame.
        EmbeddedChannel ch = new EmbeddedChannel(H2Peers.frameCodec(true, Http2Settings.defaultSettings()));
        ByteBuf hello = Unpooled.buffer();
        hello.writeBytes(Http2CodecUtil.connectionPrefaceBuf());
        frameHeader(hello, 0, 0x4, 0, 0);
        ch.writeInbound(hello);
        frames(ch);
        Http2HeadersEncoder encoder = new DefaultHttp2HeadersEncoder((name, value) -> true, false);
        ch.writeInbound(headersFrame(encoder, 3, new DefaultHttp2Headers().method("GET").path("/").scheme("https").authority("orders"), true));
        Object head;
        while (!((head = ch.readInbound()) instanceof Http2HeadersFrame)) {
            assertThat(head).as("a frame before the head").isNotNull(); // SETTINGS and its acknowledgement come first
        }
        assertThat(((Http2HeadersFrame) head).headers()).isInstanceOf(CompactHttp2Headers.class);
        assertThat(((Http2HeadersFrame) head).headers().path().toString()).isEqualTo("/");
        ch.finishAndReleaseAll();

        // A listener's own handler, as HttpPipelines.http2 installs it.
        ch = new EmbeddedChannel(H2Peers.server(Http2Settings.defaultSettings(), handler));
        hello = Unpooled.buffer();
        hello.writeBytes(Http2CodecUtil.connectionPrefaceBuf());
        frameHeader(hello, 0, 0x4, 0, 0);
        ch.writeInbound(hello);
        frames(ch);
        int id = 5;
        for (int i = 1; i <= 200; i++, id += 2) {
            ch.writeInbound(headersFrame(encoder, id, new DefaultHttp2Headers(false).method("GET").path("/").scheme("https")
                    .authority("orders").add("X-Upper", "1"), true));
        }
        assertThat(frames(ch)).filteredOn(f -> f[0] == 0x3).hasSize(200);
        assertThat(ch.isOpen()).isTrue();
        ch.writeInbound(headersFrame(encoder, id, new DefaultHttp2Headers(false).method("GET").path("/").scheme("https")
                .authority("orders").add("X-Upper", "1"), true));
        List<int[]> last = frames(ch);
        assertThat(last).as("GOAWAY: ENHANCE_YOUR_CALM").anySatisfy(f -> assertThat(f[0]).isEqualTo(0x7));
        assertThat(ch.isOpen()).isFalse();
        ch.finishAndReleaseAll();
    }

    /** Netty's other guard, kept on both sides: a peer that sends 10,001 PINGs without reading the acknowledgements is cut off. */
    @Test
    void bothSidesCloseAConnectionThatQueuesMoreThan10000ControlFramesUnread() {
        for (boolean server : new boolean[] {true, false}) {
            EmbeddedChannel ch = new EmbeddedChannel(new ChannelOutboundHandlerAdapter() {
                @Override
                public void flush(ChannelHandlerContext ctx) {
                    // a peer that reads nothing: the socket's buffer is full, nothing written completes
                }
            }, server ? H2Peers.server(Http2Settings.defaultSettings(), handler) : HttpPipelines.h2ClientStreams(8192));
            ByteBuf in = Unpooled.buffer();
            if (server) {
                in.writeBytes(Http2CodecUtil.connectionPrefaceBuf());
            }
            frameHeader(in, 0, 0x4, 0, 0);
            for (int i = 0; i <= Http2CodecUtil.DEFAULT_MAX_QUEUED_CONTROL_FRAMES; i++) {
                frameHeader(in, 8, 0x6, 0, 0); // PING, to be acknowledged
                in.writeLong(i);
            }
            ch.writeInbound(in);
            assertThat(ch.isOpen()).as(server ? "server" : "client").isFalse();
            ch.finishAndReleaseAll();
        }
    }

    /** The same on a connection Ward opens: a response head with a control character or a bad name never reaches the stream that asked. */
    @Test
    void aSidecarsOwnConnectionResetsAStreamWhoseResponseHeadCarriesAControlCharacterOrABadName() throws Exception {
        Http2Streams streams = HttpPipelines.h2ClientStreams(8192);
        EmbeddedChannel conn = new EmbeddedChannel(streams);
        Http2HeadersEncoder encoder = new DefaultHttp2HeadersEncoder((name, value) -> true, false);
        Http2UpstreamStreamsTest.Recorder seen = new Http2UpstreamStreamsTest.Recorder();
        boolean first = true;
        List<String[]> cases = new ArrayList<>(List.of(BAD_FIELDS));
        cases.add(new String[] {"x-a", "fine\tstill fine"}); // last: a good head is delivered, so the refusals above are real
        int id = 1;
        for (String[] field : cases) {
            seen.read.forEach(ReferenceCountUtil::release);
            seen.read.clear();
            Upstream up = streams.open(false);
            up.relayTo(seen);
            DefaultFullHttpRequest get = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/", Unpooled.EMPTY_BUFFER);
            get.headers().set(HttpHeaderNames.HOST, "b");
            up.write(get);
            up.flush();
            conn.runPendingTasks();
            assertThat(up.isActive()).as("the request's head went out").isTrue();
            id += 2; // the client's streams: 3, 5, 7... (Netty keeps 1 for an upgrade)
            List<int[]> out = frames(conn);
            final int sid = id;
            assertThat(out).as("the request's HEADERS").anySatisfy(f -> assertThat(f[0] == 0x1 && f[1] == sid).isTrue());
            ByteBuf in = Unpooled.buffer();
            if (first) {
                frameHeader(in, 0, 0x4, 0, 0); // the server's SETTINGS come first
                first = false;
            }
            in.writeBytes(headersFrame(encoder, id, new DefaultHttp2Headers(false).status("200").add(field[0], field[1]), true));
            conn.writeInbound(in);
            conn.runPendingTasks();
            List<int[]> sent = frames(conn);
            if (field == cases.get(cases.size() - 1)) {
                assertThat(seen.read).as("the good head").anySatisfy(m -> assertThat(m).isInstanceOf(HttpResponse.class));
                assertThat(sent).noneSatisfy(f -> assertThat(f[0]).isEqualTo(0x3));
            } else {
                assertThat(seen.read).as("%s", field[0]).noneSatisfy(m -> assertThat(m).isInstanceOf(HttpResponse.class));
                assertThat(sent).as("%s", field[0])
                        .anySatisfy(f -> assertThat(f).containsExactly(0x3, sid, (int) Http2Error.PROTOCOL_ERROR.code()));
            }
        }
        seen.read.forEach(ReferenceCountUtil::release);
        conn.finishAndReleaseAll();
    }

    private static dev.ward.telemetry.RequestTelemetry telemetry() {
        return dev.ward.telemetry.RequestTelemetry.none(dev.ward.telemetry.RequestTelemetry.Direction.INBOUND);
    }

    private static void frameHeader(ByteBuf out, int length, int type, int flags, int streamId) {
        out.writeMedium(length).writeByte(type).writeByte(flags).writeInt(streamId);
    }

    /** A HEADERS frame (END_HEADERS, and END_STREAM if {@code end}) with {@code h} encoded by {@code encoder}. */
    private static ByteBuf headersFrame(Http2HeadersEncoder encoder, int streamId, Http2Headers h, boolean end) throws Exception {
        ByteBuf block = Unpooled.buffer();
        encoder.encodeHeaders(streamId, h, block);
        ByteBuf frame = Unpooled.buffer();
        frameHeader(frame, block.readableBytes(), 0x1, 0x4 | (end ? 0x1 : 0), streamId);
        frame.writeBytes(block);
        block.release();
        return frame;
    }

    /**
     * The frames {@code ch} has written since last asked (flushes held for the event loop's turn
     * run first), each as its type, stream id and the first four bytes of its payload (an error
     * code for RST_STREAM), or 0 if shorter.
     */
    private static List<int[]> frames(EmbeddedChannel ch) {
        ch.runPendingTasks();
        ByteBuf all = Unpooled.buffer();
        for (Object m; (m = ch.readOutbound()) != null; ) {
            if (m instanceof ByteBuf b) {
                all.writeBytes(b);
            }
            ReferenceCountUtil.release(m);
        }
        if (all.readableBytes() >= 24 && all.getByte(0) == 'P' && all.getByte(1) == 'R' && all.getByte(2) == 'I') {
            all.skipBytes(24); // a client's connection preface
        }
        List<int[]> out = new ArrayList<>();
        while (all.readableBytes() >= 9) {
            int length = all.readUnsignedMedium();
            int type = all.readUnsignedByte();
            all.skipBytes(1);
            int stream = all.readInt() & 0x7fffffff;
            out.add(new int[] {type, stream, length >= 4 ? all.getInt(all.readerIndex()) : 0});
            all.skipBytes(length);
        }
        all.release();
        return out;
    }
}
