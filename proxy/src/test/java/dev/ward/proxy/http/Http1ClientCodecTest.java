package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Ward's HTTP/1.1 client codec: Netty's client codec's framing, with known response header names shared. */
class Http1ClientCodecTest {

    private final EmbeddedChannel ch = new EmbeddedChannel(new Http1ClientCodec(8192, 8192, 8192));

    @AfterEach
    void close() {
        ch.finishAndReleaseAll();
    }

    @Test
    void knownResponseHeaderNamesAreTheSharedConstantsAndOthersKeepTheirCase() {
        send(HttpMethod.GET);
        List<Object> in = receive("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSERVER: nginx\r\nX-Custom: a\r\n"
                + "Content-Length: 2\r\nCONNECTION: keep-alive\r\nEtag: \"x\"\r\n\r\nhi");
        HttpResponse res = (HttpResponse) in.get(0);
        List<CharSequence> names = new ArrayList<>();
        for (Map.Entry<CharSequence, CharSequence> e : (Iterable<Map.Entry<CharSequence, CharSequence>>) res.headers()::iteratorCharSequence) {
            names.add(e.getKey());
        }
        assertThat(names.get(0)).isSameAs(HttpHeaderNames.CONTENT_TYPE);
        assertThat(names.get(1)).isSameAs(HttpHeaderNames.SERVER);
        assertThat(names.get(2).toString()).isEqualTo("X-Custom");
        assertThat(names.get(3)).isSameAs(HttpHeaderNames.CONTENT_LENGTH);
        assertThat(names.get(4)).as("a hop-by-hop name").isSameAs(HttpHeaderNames.CONNECTION);
        assertThat(names.get(5)).isSameAs(HttpHeaderNames.ETAG);
        assertThat(res.headers().get("server")).isEqualTo("nginx");
        assertThat(((CompactHttpHeaders) res.headers()).capacity()).as("room for the :status of HTTP/2, not more")
                .isEqualTo(res.headers().size() + PlainHead.RESPONSE_SPARE).isEqualTo(7);
        assertThat(body(in)).isEqualTo("hi");
        release(in);
    }

    /**
     * A value that repeats the one its header had in the connection's response before is that
     * same object (what lets HPACK find it by identity); a changed value, another connection's,
     * and a credential are not shared, and a header Ward adds later is not remembered.
     */
    @Test
    void aConnectionsRepeatedResponseHeaderValuesAreOneObject() {
        String head = "HTTP/1.1 200 OK\r\nServer: nginx\r\nX-Custom: a\r\nSet-Cookie: s=1\r\nDate: %s\r\nContent-Length: 0\r\n\r\n";
        HttpResponse[] res = new HttpResponse[3];
        String[] dates = {"Sat, 05 Dec 2026 05:20:11 GMT", "Sat, 05 Dec 2026 05:20:11 GMT", "Sat, 05 Dec 2026 05:20:12 GMT"};
        for (int i = 0; i < 3; i++) {
            send(HttpMethod.GET);
            List<Object> in = receive(String.format(head, dates[i]));
            res[i] = (HttpResponse) in.get(0);
            release(in);
        }
        res[0].headers().add(io.netty.util.AsciiString.of("x-added"), "v"); // Ward's own, after the head was read
        assertThat((Object) value(res[1], "server")).isInstanceOf(io.netty.util.AsciiString.class).isSameAs(value(res[0], "server"));
        assertThat((Object) value(res[2], "server")).isSameAs(value(res[0], "server"));
        assertThat((Object) value(res[2], "x-custom")).as("an unknown name, by content").isSameAs(value(res[0], "x-custom"));
        assertThat((Object) value(res[1], "date")).isSameAs(value(res[0], "date"));
        assertThat((Object) value(res[2], "date")).as("changed").isNotSameAs(value(res[1], "date"));
        assertThat(value(res[2], "date").toString()).isEqualTo(dates[2]);
        assertThat((Object) value(res[1], "set-cookie")).as("a credential, never kept").isNotSameAs(value(res[0], "set-cookie"))
                .hasToString("s=1");

        EmbeddedChannel other = new EmbeddedChannel(new Http1ClientCodec(8192, 8192, 8192));
        other.writeOutbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/"));
        ReferenceCountUtil.release(other.readOutbound());
        other.writeInbound(Unpooled.copiedBuffer(String.format(head, dates[0]) , StandardCharsets.US_ASCII));
        HttpResponse elsewhere = other.readInbound();
        assertThat((Object) value(elsewhere, "server")).as("another connection's").isNotSameAs(value(res[0], "server"))
                .hasToString("nginx");
        other.finishAndReleaseAll();

        send(HttpMethod.GET);
        List<Object> in = receive("HTTP/1.1 200 OK\r\nx-added: v\r\nContent-Length: 0\r\n\r\n");
        assertThat((Object) value((HttpResponse) in.get(0), "x-added")).isInstanceOf(io.netty.util.AsciiString.class)
                .isNotSameAs(value(res[0], "x-added"));
        release(in);
    }

    /**
     * A plain head's repeated values make no string: decoding the same nginx-like response again
     * and again allocates less per response than Netty's decoder does (which makes a string of
     * every value) by at least what those strings take. Bytes are counted by the JVM, per thread.
     */
    @Test
    void aPlainHeadsRepeatedValuesMakeNoString() {
        String response = "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sat, 05 Dec 2026 05:20:11 GMT\r\n"
                + "Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\nETag: \"6750-14\"\r\n"
                + "Accept-Ranges: bytes\r\n\r\nhi";
        // The tests run with paranoid leak detection, which records a stack trace for every buffer
        // made (tens of KB a response, of a size that depends on the stack): off while counting.
        io.netty.util.ResourceLeakDetector.Level leaks = io.netty.util.ResourceLeakDetector.getLevel();
        long plain;
        long netty;
        try {
            io.netty.util.ResourceLeakDetector.setLevel(io.netty.util.ResourceLeakDetector.Level.DISABLED);
            plain = bytesPerResponse(new Http1ClientCodec(8192, 8192, 8192), response);
            netty = bytesPerResponse(new Http1ClientCodec(8192, 8192, 8192, false), response);
        } finally {
            io.netty.util.ResourceLeakDetector.setLevel(leaks);
        }
        // Netty's strings for those seven values: 24 B each and an array of 16 B and the text, rounded
        // to 8 (about 390 B); measured 440-470 B apart, and 50-80 B when the repeats were found by string.
        assertThat(netty - plain).as("bytes per response: read here %d, by Netty's decoder %d", plain, netty).isGreaterThanOrEqualTo(300);
    }

    private static long bytesPerResponse(Http1ClientCodec codec, String response) {
        EmbeddedChannel c = new EmbeddedChannel(codec);
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        ByteBuf bytes = Unpooled.copiedBuffer(response, StandardCharsets.US_ASCII);
        long before = 0;
        int rounds = 4000;
        for (int i = 0; i < rounds; i++) {
            if (i == rounds / 2) {
                before = threads.getCurrentThreadAllocatedBytes();
            }
            c.writeOutbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/"));
            for (Object o; (o = c.readOutbound()) != null; ) {
                ReferenceCountUtil.release(o);
            }
            c.writeInbound(bytes.retainedDuplicate());
            for (Object o; (o = c.readInbound()) != null; ) {
                ReferenceCountUtil.release(o);
            }
        }
        long perResponse = (threads.getCurrentThreadAllocatedBytes() - before) / (rounds / 2);
        bytes.release();
        c.finishAndReleaseAll();
        return perResponse;
    }

    private static CharSequence value(HttpResponse res, String name) {
        return ((CompactHttpHeaders) res.headers()).value(name);
    }

    /** The status line's version, code and a standard reason come as shared constants; anything else as sent. */
    @Test
    void statusLinesAreReadAsNettyReadsThem() {
        String[][] cases = {
            {"HTTP/1.1 200 OK", "HTTP/1.1", "200", "OK"},
            {"HTTP/1.0 404 Not Found", "HTTP/1.0", "404", "Not Found"},
            {"HTTP/1.1 200 Fine", "HTTP/1.1", "200", "Fine"},
            {"HTTP/1.1 503 Service Unavailable", "HTTP/1.1", "503", "Service Unavailable"},
            {"HTTP/1.1 299 Custom Thing", "HTTP/1.1", "299", "Custom Thing"},
            {"HTTP/1.1 200 Ok", "HTTP/1.1", "200", "Ok"},
        };
        for (String[] c : cases) {
            send(HttpMethod.GET);
            List<Object> in = receive(c[0] + "\r\nContent-Length: 0\r\n\r\n");
            HttpResponse res = (HttpResponse) in.get(0);
            assertThat(res.decoderResult().isSuccess()).as(c[0]).isTrue();
            assertThat(res.protocolVersion().text()).as(c[0]).isEqualTo(c[1]);
            assertThat(res.status().code()).as(c[0]).isEqualTo(Integer.parseInt(c[2]));
            assertThat(res.status().reasonPhrase()).as(c[0]).isEqualTo(c[3]);
            release(in);
        }
        send(HttpMethod.GET);
        List<Object> in = receive("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        assertThat(((HttpResponse) in.get(0)).status()).isSameAs(io.netty.handler.codec.http.HttpResponseStatus.OK);
        assertThat(((HttpResponse) in.get(0)).protocolVersion()).isSameAs(HttpVersion.HTTP_1_1);
        release(in);
        send(HttpMethod.GET);
        in = receive("HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n");
        assertThat(((HttpResponse) in.get(0)).decoderResult().isFailure()).as("a status that is not a number").isTrue();
        release(in);
    }

    @Test
    void aResponseToHeadHasNoBodyAndTheNextResponseIsReadAfterIt() {
        send(HttpMethod.HEAD);
        send(HttpMethod.GET);
        // An interim response does not answer the HEAD: the 200 after it does.
        List<Object> in = receive("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
                + "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
                + "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
        List<HttpResponse> heads = only(in, HttpResponse.class);
        assertThat(heads).extracting(r -> r.status().code()).containsExactly(103, 200, 200);
        assertThat(heads).allMatch(r -> r.decoderResult().isSuccess());
        assertThat(body(in)).as("the HEAD's response took none of the next one's bytes").isEqualTo("abc");
        release(in);
    }

    @Test
    void afterAConnectIsAnsweredTheBytesPassAsTheyAre() {
        send(HttpMethod.CONNECT);
        List<Object> in = receive("HTTP/1.1 200 Connection Established\r\n\r\nnot http");
        in.addAll(receive(" at all"));
        StringBuilder raw = new StringBuilder();
        for (Object o : in) {
            if (o instanceof ByteBuf b) {
                raw.append(b.toString(StandardCharsets.US_ASCII));
            }
        }
        assertThat(raw.toString()).isEqualTo("not http at all");
        release(in);
    }

    @Test
    void onlyAChunkedResponseGetsATrailerMapOfItsOwn() {
        send(HttpMethod.GET);
        send(HttpMethod.GET);
        send(HttpMethod.GET);
        List<Object> in = receive("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
                + "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Checksum: 42\r\n\r\n"
                + "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n!");
        List<LastHttpContent> ends = only(in, LastHttpContent.class);
        assertThat(ends).hasSize(3);
        assertThat(ends.get(0).trailingHeaders()).as("a Content-Length body's end").isSameAs(EmptyHttpHeaders.INSTANCE);
        assertThat(ends.get(1).trailingHeaders().get("x-checksum")).as("the chunked response's trailer").isEqualTo("42");
        assertThat(ends.get(2).trailingHeaders()).isSameAs(EmptyHttpHeaders.INSTANCE);
        assertThat(body(in)).isEqualTo("hiabc!");
        release(in);
    }

    @Test
    void aChunkedResponseWhoseHeadArrivesAloneStillGetsItsTrailers() {
        send(HttpMethod.GET);
        send(HttpMethod.GET);
        List<Object> in = receive("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
        in.addAll(receive("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"));
        in.addAll(receive("1\r\nx\r\n0\r\nX-Late: yes\r\n"));
        in.addAll(receive("\r\n"));
        List<LastHttpContent> ends = only(in, LastHttpContent.class);
        assertThat(ends).hasSize(2);
        assertThat(ends.get(1).trailingHeaders().get("x-late")).isEqualTo("yes");
        assertThat(ends.get(1).decoderResult().isSuccess()).isTrue();
        release(in);
    }

    @Test
    void aPooledConnectionsCodecHandsOnA16KiBBodyReadAtOnceInOnePiece() {
        EmbeddedChannel pooled = new EmbeddedChannel(ConnectionPool.http1Codec(8192));
        pooled.writeOutbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/"));
        for (Object o; (o = pooled.readOutbound()) != null; ) {
            ReferenceCountUtil.release(o);
        }
        String body = "x".repeat(16384);
        pooled.writeInbound(Unpooled.copiedBuffer("HTTP/1.1 200 OK\r\nContent-Length: 16384\r\n\r\n" + body, StandardCharsets.US_ASCII));
        List<Object> in = new ArrayList<>();
        for (Object o; (o = pooled.readInbound()) != null; ) {
            in.add(o);
        }
        assertThat(only(in, HttpContent.class)).as("Netty's default would cut it at 8 KiB").hasSize(1);
        assertThat(body(in)).isEqualTo(body);
        release(in);
        pooled.finishAndReleaseAll();
    }

    private void send(HttpMethod method) {
        ch.writeOutbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, method, "/"));
        for (Object o; (o = ch.readOutbound()) != null; ) {
            ReferenceCountUtil.release(o);
        }
    }

    private List<Object> receive(String bytes) {
        ch.writeInbound(Unpooled.copiedBuffer(bytes, StandardCharsets.US_ASCII));
        List<Object> in = new ArrayList<>();
        for (Object o; (o = ch.readInbound()) != null; ) {
            in.add(o);
        }
        return in;
    }

    private static <T> List<T> only(List<Object> in, Class<T> type) {
        return in.stream().filter(type::isInstance).map(type::cast).toList();
    }

    private static String body(List<Object> in) {
        StringBuilder b = new StringBuilder();
        for (Object o : in) {
            if (o instanceof HttpContent c) {
                b.append(c.content().toString(StandardCharsets.US_ASCII));
            }
        }
        return b.toString();
    }

    private static void release(List<Object> in) {
        in.forEach(ReferenceCountUtil::release);
    }
}
