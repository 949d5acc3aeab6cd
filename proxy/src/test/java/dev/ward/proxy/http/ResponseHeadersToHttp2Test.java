package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.HttpConversionUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ResponseHeadersToHttp2Test {

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
        Http2Headers h = ResponseHeadersToHttp2.toHttp2(response());
        assertThat(pairs(h)).containsExactly(":status: 201", "content-type: text/plain", "content-length: 5",
                "server: nginx/1.22.1", "set-cookie: a=1", "set-cookie: b=2", "x-request-id: Abc-1", "x-already-lower: v",
                "etag: \"x\"");
    }

    /** The same headers as Netty's own conversion, less the TE header HTTP/2 allows in requests only. */
    @Test
    void sameAsNettysConversionForResponses() throws Exception {
        HttpResponse res = response();
        res.headers().remove("TE");
        assertThat(pairs(ResponseHeadersToHttp2.toHttp2(res))).isEqualTo(pairs(HttpConversionUtil.toHttp2Headers(res, true)));
    }

    @Test
    void aResponseHeadBecomesAHeadersFrameThatDoesNotEndTheStream() {
        EmbeddedChannel ch = new EmbeddedChannel(ResponseHeadersToHttp2.INSTANCE);
        ch.writeOutbound(response());
        Http2HeadersFrame f = ch.readOutbound();
        assertThat(f.isEndStream()).isFalse();
        assertThat(f.headers().status()).hasToString("201");
        assertThat(f.headers().get("content-type")).hasToString("text/plain");
        assertThat((Object) ch.readOutbound()).isNull();
    }

    /** Whole responses, 1xx heads and heads that still name headers in Connection are left to Netty's codec. */
    @Test
    void otherMessagesPassUnchanged() {
        EmbeddedChannel ch = new EmbeddedChannel(ResponseHeadersToHttp2.INSTANCE);
        DefaultFullHttpResponse full = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.FORBIDDEN,
                Unpooled.copiedBuffer("no", StandardCharsets.US_ASCII));
        HttpResponse informational = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE);
        HttpResponse namesConnection = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        namesConnection.headers().add("Connection", "x-private").add("X-Private", "1");
        ch.writeOutbound(full, informational, namesConnection);
        assertThat((Object) ch.readOutbound()).isSameAs(full);
        assertThat((Object) ch.readOutbound()).isSameAs(informational);
        assertThat((Object) ch.readOutbound()).isSameAs(namesConnection);
        full.release();
    }
}
