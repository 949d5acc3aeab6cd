package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class HeadsToHttp2Test {

    static HttpResponse response() {
        HttpResponse res = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CREATED);
        res.headers()
                .add("Content-Type", "text/plain")
                .add("Content-Length", "5")
                .add("Server", "nginx/1.22.1")
                .add("Set-Cookie", "a=1")
                .add("set-cookie", "b=2")
                .add("X-Request-Id", "Abc-1")
                .add("x-already-lower", "v")
                .add("Transfer-Encoding", "chunked")
                .add("Keep-Alive", "timeout=5")
                .add("Proxy-Connection", "keep-alive")
                .add("Upgrade", "h2c")
                .add("TE", "trailers")
                .add("Host", "orders")
                .add("x-http2-stream-id", "3")
                .add("ETag", "\"x\"");
        return res;
    }

    static List<String> pairs(Http2Headers h) {
        List<String> out = new ArrayList<>();
        for (Map.Entry<CharSequence, CharSequence> e : h) {
            out.add(e.getKey() + ": " + e.getValue());
        }
        return out;
    }

    @Test
    void headersAreLowerCasedAndConnectionSpecificOnesDropped() {
        Http2Headers h = HeadsToHttp2.toHttp2(response());
        assertThat(pairs(h)).containsExactly(":status: 201", "content-type: text/plain", "content-length: 5",
                "server: nginx/1.22.1", "set-cookie: a=1", "set-cookie: b=2", "x-request-id: Abc-1", "x-already-lower: v",
                "etag: \"x\"");
    }

    /**
     * A response whose map has room for one more header (as {@link Http1ClientCodec} reads one) is
     * converted on that map's array, which the HTTP/2 map takes: the same headers, in the same order,
     * as the copy of a map without room.
     */
    @Test
    void aResponseWithRoomIsConvertedOnItsOwnArrayAsACopyWouldBe() {
        List<String> copied = pairs(HeadsToHttp2.toHttp2(response()));
        for (int room : new int[] {1, 3}) {
            HttpResponse res = response();
            CompactHttpHeaders own = new CompactHttpHeaders(res.headers().size() + room);
            own.add(res.headers());
            HttpResponse compact = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CREATED, own);
            Http2Headers h = HeadsToHttp2.toHttp2(compact);
            assertThat(pairs(h)).isEqualTo(copied);
            assertThat(h.status().toString()).isEqualTo("201");
            assertThat(own.size()).as("the HTTP/1.1 map's array was taken").isZero();
            h.add("x-after", "1"); // the taken array goes on as the map's own
            assertThat(pairs(h)).endsWith("x-after: 1").hasSize(copied.size() + 1);
        }
        CompactHttpHeaders full = new CompactHttpHeaders(response().headers().size());
        full.add(response().headers());
        assertThat(pairs(HeadsToHttp2.toHttp2(new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CREATED, full))))
                .isEqualTo(copied);
        assertThat(full.size()).as("a map without room is copied, and left as it was").isEqualTo(response().headers().size());
    }

    /** The same headers as Netty's own conversion, less the TE header HTTP/2 allows in requests only. */
    @Test
    void sameAsNettysConversionForResponses() throws Exception {
        HttpResponse res = response();
        res.headers().remove("TE");
        assertThat(pairs(HeadsToHttp2.toHttp2(res))).isEqualTo(pairs(HttpConversionUtil.toHttp2Headers(res, true)));
    }

    @Test
    void aResponseHeadBecomesAHeadersFrameThatDoesNotEndTheStream() {
        EmbeddedChannel ch = new EmbeddedChannel(HeadsToHttp2.SERVER);
        ch.writeOutbound(response());
        Http2HeadersFrame f = ch.readOutbound();
        assertThat(f.isEndStream()).isFalse();
        assertThat(f.headers().status()).hasToString("201");
        assertThat(f.headers().get("content-type")).hasToString("text/plain");
        assertThat((Object) ch.readOutbound()).isNull();
    }

    /** Whole responses with a body and heads that still name headers in Connection are Netty's to convert. */
    @Test
    void otherResponsesAreConvertedByNetty() {
        EmbeddedChannel ch = new EmbeddedChannel(HeadsToHttp2.SERVER);
        ch.writeOutbound(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.FORBIDDEN,
                Unpooled.copiedBuffer("no", StandardCharsets.US_ASCII)));
        Http2HeadersFrame head = ch.readOutbound();
        assertThat(head.headers().status()).hasToString("403");
        assertThat(head.isEndStream()).isFalse();
        Http2DataFrame body = ch.readOutbound();
        assertThat(body.content().toString(StandardCharsets.US_ASCII)).isEqualTo("no");
        assertThat(body.isEndStream()).isTrue();
        body.release();
        HttpResponse namesConnection = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        namesConnection.headers().add("Connection", "x-private").add("X-Private", "1").add("X-Other", "2");
        ch.writeOutbound(namesConnection);
        Http2HeadersFrame f = ch.readOutbound();
        assertThat(pairs(f.headers())).containsExactly(":status: 200", "x-other: 2"); // Netty drops what Connection names
    }

    static HttpRequest request(String uri) {
        HttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, uri, Unpooled.EMPTY_BUFFER);
        req.headers().add("Host", "orders.shop:8080").add("User-Agent", "curl/8").add("Accept", "*/*")
                .add("X-Bench", "1").add("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
                .add("Keep-Alive", "timeout=5").add("Transfer-Encoding", "chunked");
        return req;
    }

    /** The same headers, pseudo-headers first, as Netty's conversion (given the scheme it would add). */
    @Test
    void requestsAsNettyConvertsThem() {
        for (String uri : List.of("/orders/42?x=1", "/")) {
            HttpRequest req = request(uri);
            List<String> ours = pairs(HeadsToHttp2.toHttp2(req, AsciiString.of("https")));
            req.headers().set(HttpConversionUtil.ExtensionHeaderNames.SCHEME.text(), "https");
            assertThat(ours).isEqualTo(pairs(HttpConversionUtil.toHttp2Headers(req, true)))
                    .startsWith(":path: " + uri, ":scheme: https", ":authority: orders.shop:8080", ":method: GET");
        }
    }

    @Test
    void aWholeRequestWithoutBodyIsOneHeadersFrameThatEndsTheStream() {
        EmbeddedChannel ch = new EmbeddedChannel(HeadsToHttp2.CLIENT);
        ch.writeOutbound(request("/orders/42"));
        Http2HeadersFrame f = ch.readOutbound();
        assertThat(f.isEndStream()).isTrue();
        assertThat(f.headers().scheme()).hasToString("http"); // no TLS on this channel
        assertThat(f.headers().get("x-bench")).hasToString("1");
        assertThat((Object) ch.readOutbound()).isNull();
    }

    /** Requests HTTP/2 treats specially, or not in origin form, are Netty's to convert. */
    @Test
    void unusualRequestsAreLeftToNetty() {
        HttpRequest cookie = request("/a");
        cookie.headers().add("Cookie", "a=1; b=2");
        HttpRequest te = request("/a");
        te.headers().add("TE", "trailers");
        HttpRequest absolute = request("http://orders.shop/a");
        HttpRequest userInfo = request("/a");
        userInfo.headers().set("Host", "me@orders.shop");
        HttpRequest withBody = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/a",
                Unpooled.copiedBuffer("x", StandardCharsets.US_ASCII));
        for (HttpRequest r : List.of(cookie, te, absolute, userInfo, withBody)) {
            assertThat(HeadsToHttp2.toHttp2(r, AsciiString.of("https"))).as(r.toString()).isNull();
        }
        ((DefaultFullHttpRequest) withBody).release();
        EmbeddedChannel ch = new EmbeddedChannel(HeadsToHttp2.CLIENT);
        ch.writeOutbound(cookie);
        Http2HeadersFrame f = ch.readOutbound();
        assertThat(f.headers().getAll("cookie")).extracting(Object::toString).containsExactly("a=1", "b=2"); // Netty splits it
    }

    @Test
    void aBodyThatEndsTheStreamEndsTheMessageWithTheSharedEmptyTrailersAndRealTrailersStillArrive() {
        EmbeddedChannel ch = new EmbeddedChannel(HeadsToHttp2.CLIENT);
        try {
            ch.writeInbound(new DefaultHttp2HeadersFrame(
                    new DefaultHttp2Headers().status("200"), false));
            ch.writeInbound(new DefaultHttp2DataFrame(
                    Unpooled.copiedBuffer("hi", StandardCharsets.US_ASCII), true));
            assertThat((Object) ch.readInbound()).isInstanceOf(HttpResponse.class);
            LastHttpContent last = ch.readInbound();
            assertThat(last.content().toString(StandardCharsets.US_ASCII)).isEqualTo("hi");
            assertThat(last.trailingHeaders()).isSameAs(EmptyHttpHeaders.INSTANCE);
            last.release();

            // A body followed by trailers: the trailers come in the last piece, as Netty makes it.
            ch.writeInbound(new DefaultHttp2HeadersFrame(
                    new DefaultHttp2Headers().status("200"), false));
            ch.writeInbound(new DefaultHttp2DataFrame(
                    Unpooled.copiedBuffer("body", StandardCharsets.US_ASCII), false));
            ch.writeInbound(new DefaultHttp2HeadersFrame(
                    new DefaultHttp2Headers().add("grpc-status", "0"), true));
            assertThat((Object) ch.readInbound()).isInstanceOf(HttpResponse.class);
            HttpContent piece = ch.readInbound();
            assertThat(piece).isNotInstanceOf(LastHttpContent.class);
            assertThat(piece.content().toString(StandardCharsets.US_ASCII)).isEqualTo("body");
            piece.release();
            LastHttpContent end = ch.readInbound();
            assertThat(end.trailingHeaders().get("grpc-status")).isEqualTo("0");
            end.release();
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    /** What a codec makes of one inbound frame, described as {@link #describe} does. */
    static List<String> decodeWith(io.netty.channel.ChannelHandler codec, Http2HeadersFrame frame) {
        EmbeddedChannel ch = new EmbeddedChannel(codec);
        try {
            ch.writeInbound(frame);
            Object msg = ch.readInbound();
            try {
                return describe(msg);
            } finally {
                io.netty.util.ReferenceCountUtil.release(msg);
            }
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    /** A message's kind, start line and headers, less Netty's extension headers (which the proxy strips before the next hop). */
    static List<String> describe(Object msg) {
        List<String> out = new ArrayList<>();
        out.add(msg.getClass().getSimpleName());
        io.netty.handler.codec.http.HttpHeaders h;
        if (msg instanceof HttpRequest r) {
            out.add(r.method() + " " + r.uri() + " " + r.protocolVersion());
            h = r.headers();
        } else {
            HttpResponse r = (HttpResponse) msg;
            out.add(r.status() + " " + r.protocolVersion());
            h = r.headers();
        }
        if (msg instanceof io.netty.handler.codec.http.FullHttpMessage f) {
            out.add("content " + f.content().readableBytes() + ", trailers " + f.trailingHeaders().size());
        }
        List<String> cookies = new ArrayList<>();
        for (Map.Entry<String, String> e : h) {
            if (e.getKey().equals("cookie")) {
                cookies.add(e.getValue());
            } else if (!e.getKey().startsWith("x-http2-")) {
                out.add(e.getKey() + ": " + e.getValue());
            }
        }
        if (!cookies.isEmpty()) { // Netty 4.2 passes each on; Ward joins them, as RFC 9113 8.2.3 requires for HTTP/1.1
            out.add(out.size() - (out.get(out.size() - 1).startsWith("transfer-encoding") ? 1 : 0), "cookie: " + String.join("; ", cookies));
        }
        return out;
    }

    static Http2Headers h2Request() {
        return new DefaultHttp2Headers().method("POST").path("/orders/42?x=1").scheme("https").authority("orders.shop:8443")
                .add("user-agent", "curl/7.88").add("cookie", "a=1").add("accept", "*/*").add("cookie", "b=2")
                .add("te", "trailers").add("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
                .add("x-multi", "1").add("x-multi", "2");
    }

    /** Requests and responses come in as Netty's codec would make them (less its extension headers), with and without END_STREAM. */
    @Test
    void headersFramesBecomeTheMessagesNettyWouldMake() {
        for (boolean end : new boolean[] {false, true}) {
            for (Http2Headers req : List.of(h2Request(), h2Request().add("content-length", "5"),
                    new DefaultHttp2Headers().method("GET").path("/").scheme("http"))) {
                List<String> ours = decodeWith(HeadsToHttp2.SERVER,
                        new DefaultHttp2HeadersFrame(req, end));
                List<String> netty = decodeWith(new io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec(true),
                        new DefaultHttp2HeadersFrame(req, end));
                assertThat(ours).as("request, end of stream %s", end).isEqualTo(netty);
            }
            for (Http2Headers res : List.of(new DefaultHttp2Headers().status("200").add("content-type", "text/plain")
                            .add("set-cookie", "a=1").add("set-cookie", "b=2"),
                    new DefaultHttp2Headers().status("404").add("content-length", "9"),
                    new DefaultHttp2Headers().status("204"), new DefaultHttp2Headers().status("304").add("etag", "\"x\""))) {
                List<String> ours = decodeWith(HeadsToHttp2.CLIENT, new DefaultHttp2HeadersFrame(res, end));
                List<String> netty = decodeWith(new io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec(false),
                        new DefaultHttp2HeadersFrame(res, end));
                assertThat(ours).as("response, end of stream %s", end).isEqualTo(netty);
            }
        }
        // Cookies are joined into one header, :authority is the Host, and no extension header is added.
        assertThat(describe(HeadsToHttp2.toHttp1Request(h2Request(), false))).containsExactly("DefaultHttpRequest",
                "POST /orders/42?x=1 HTTP/1.1", "host: orders.shop:8443", "user-agent: curl/7.88", "accept: */*",
                "te: trailers", "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "x-multi: 1",
                "x-multi: 2", "cookie: a=1; b=2", "transfer-encoding: chunked");
        assertThat(HeadsToHttp2.toHttp1Request(new DefaultHttp2Headers().method(new AsciiString("DELETE")).path("/"), true).method())
                .isSameAs(HttpMethod.DELETE);
        assertThat(HeadsToHttp2.toHttp1Request(new DefaultHttp2Headers().method("PURGE").path("/"), true).method().name())
                .as("a method Ward has no constant for").isEqualTo("PURGE");
        HttpRequest joined = HeadsToHttp2.toHttp1Request(h2Request(), false);
        assertThat(joined.headers().getAll("cookie")).as("one Cookie header for HTTP/1.1 (RFC 9113 8.2.3)").containsExactly("a=1; b=2");
        assertThat(joined.headers().names()).noneMatch(n -> n.startsWith("x-http2-"));
        // Room for what an inbound sidecar adds under a token policy: two identity headers, two claims.
        HttpRequest plain = HeadsToHttp2.toHttp1Request(new DefaultHttp2Headers().method("GET").path("/").scheme("https")
                .authority("orders").add("accept", "*/*"), true);
        CompactHttpHeaders room = (CompactHttpHeaders) plain.headers();
        int capacity = room.capacity();
        room.set("x-ward-peer-identity", "spiffe://td/a").set("x-forwarded-client-cert", "URI=spiffe://td/a")
                .set("x-ward-jwt-sub", "alice").set("x-ward-jwt-iss", "https://auth.example");
        assertThat(room.capacity()).as("four added without growing").isEqualTo(capacity).isEqualTo(6);
        // A host header besides :authority: the app gets one Host, the :authority Ward itself reads.
        HttpRequest twoHosts = HeadsToHttp2.toHttp1Request(new DefaultHttp2Headers().method("GET").path("/").authority("orders")
                .add("host", "elsewhere"), true);
        assertThat(twoHosts.headers().getAll("host")).containsExactly("orders");
        assertThat(HeadsToHttp2.toHttp1Request(new DefaultHttp2Headers().method("GET").path("/").add("host", "orders"), true)
                .headers().getAll("host")).as("without :authority, the host header stays").containsExactly("orders");
    }

    /** {@code h} as the decoder makes it: Ward's validating map, with the decoder's one header of room. */
    static CompactHttp2Headers decoded(Http2Headers h) {
        CompactHttp2Headers c = CompactHttp2Headers.validating(h.size() + 1);
        h.forEach(e -> c.add(e.getKey(), e.getValue()));
        return c;
    }

    /**
     * A head the decoder made is converted to HTTP/1.1 on its own array, which the HTTP/1.1 map
     * takes: the same messages as Netty makes of the same headers (cookies, a Host beside
     * :authority, headers HTTP/1.1 must not get, repeated names), the decoder's map left empty, and
     * the room an inbound sidecar needs without the array growing.
     */
    @Test
    void aDecodedHeadIsConvertedOnItsOwnArrayAsNettyWouldConvertIt() {
        List<Http2Headers> requests = List.of(h2Request(), h2Request().add("content-length", "5"),
                new DefaultHttp2Headers().method("GET").path("/").scheme("http"),
                new DefaultHttp2Headers().method("GET").path("/").authority("orders")
                        .add("connection", "close").add("transfer-encoding", "chunked").add("trailer", "x").add("x-last", "1"),
                new DefaultHttp2Headers().method("GET").path("/").authority("a").add("cookie", "only=1").add("x-after", "2"));
        for (boolean end : new boolean[] {false, true}) {
            for (Http2Headers req : requests) {
                CompactHttp2Headers mine = decoded(req);
                List<String> ours = decodeWith(HeadsToHttp2.SERVER, new DefaultHttp2HeadersFrame(mine, end));
                List<String> netty = decodeWith(new io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec(true),
                        new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().add(req), end));
                assertThat(ours).as("request %s, end of stream %s", req, end).isEqualTo(netty);
                assertThat(mine.size()).as("the decoder's map, handed over").isZero();
            }
            for (Http2Headers res : List.of(new DefaultHttp2Headers().status("200").add("content-type", "text/plain")
                            .add("set-cookie", "a=1").add("set-cookie", "b=2"),
                    new DefaultHttp2Headers().status("404").add("content-length", "9"), new DefaultHttp2Headers().status("204"))) {
                CompactHttp2Headers mine = decoded(res);
                List<String> ours = decodeWith(HeadsToHttp2.CLIENT, new DefaultHttp2HeadersFrame(mine, end));
                List<String> netty = decodeWith(new io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec(false),
                        new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().add(res), end));
                assertThat(ours).as("response %s, end of stream %s", res, end).isEqualTo(netty);
                assertThat(mine.size()).isZero();
            }
        }
        // Room, on the decoder's array: four pseudo-headers and one more make room for the four an
        // inbound sidecar adds under a token policy.
        HttpRequest plain = HeadsToHttp2.toHttp1Request(decoded(new DefaultHttp2Headers().method("GET").path("/").scheme("https")
                .authority("orders").add("accept", "*/*")), true);
        CompactHttpHeaders room = (CompactHttpHeaders) plain.headers();
        assertThat(room.capacity()).isEqualTo(6);
        room.set("x-ward-peer-identity", "spiffe://td/a").set("x-forwarded-client-cert", "URI=spiffe://td/a")
                .set("x-ward-jwt-sub", "alice").set("x-ward-jwt-iss", "https://auth.example");
        assertThat(room.capacity()).as("four added without growing").isEqualTo(6);
        assertThat(room.size()).isEqualTo(6);
        // A host header besides :authority: the app gets one Host, the :authority Ward itself reads.
        assertThat(HeadsToHttp2.toHttp1Request(decoded(new DefaultHttp2Headers().method("GET").path("/").authority("orders")
                .add("host", "elsewhere").add("x-a", "1")), true).headers().entries().toString())
                .isEqualTo("[host=orders, x-a=1]");
        // A head with a pseudo-header the conversion does not expect is left whole, for Netty's conversion.
        CompactHttp2Headers odd = CompactHttp2Headers.validating(4);
        odd.method("GET").path("/").add("x-a", "1");
        odd.add(":status", "200"); // a response's, in a request
        assertThat(HeadsToHttp2.toHttp1Request(odd, true)).isNull();
        assertThat(odd.size()).as("untouched").isEqualTo(4);
    }

    @Test
    void unusualHeadsAreLeftToNettyAndBadValuesAreRefusedAsNettyRefusesThem() {
        assertThat(HeadsToHttp2.toHttp1Request(new DefaultHttp2Headers().method("CONNECT").authority("a:443"), false)).isNull();
        assertThat(HeadsToHttp2.toHttp1Request(new DefaultHttp2Headers().method("GET"), true)).as("no :path").isNull();
        assertThat(HeadsToHttp2.toHttp1Request(new DefaultHttp2Headers(false).method("GET").path("/").add(":status", "200"), true))
                .as("a response pseudo-header in a request").isNull();
        assertThat(HeadsToHttp2.toHttp1Response(new DefaultHttp2Headers().status("100"), false)).as("interim").isNull();
        assertThat(HeadsToHttp2.toHttp1Response(new DefaultHttp2Headers(false).status("2x0"), false)).isNull();
        assertThat(HeadsToHttp2.toHttp1Response(new DefaultHttp2Headers(false).status("200").path("/"), false)).isNull();
        // A CR or LF must not reach an HTTP/1.1 connection. In a header, Netty's decoder refuses
        // the frame before it reaches a stream (HttpPipelinesTest, over the wire); in the request
        // line, the request object refuses it here too.
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> HeadsToHttp2.toHttp1Request(
                new DefaultHttp2Headers(false).method("GET").path("/a HTTP/1.1\r\nx: y"), true))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
