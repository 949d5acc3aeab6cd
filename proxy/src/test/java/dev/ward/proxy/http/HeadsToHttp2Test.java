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
}
