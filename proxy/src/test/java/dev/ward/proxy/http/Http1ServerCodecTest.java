package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class Http1ServerCodecTest {

    private static ByteBuf ascii(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
    }

    private static String written(EmbeddedChannel ch) {
        StringBuilder sb = new StringBuilder();
        for (Object m; (m = ch.readOutbound()) != null; ) {
            sb.append(((ByteBuf) m).toString(StandardCharsets.US_ASCII));
            ReferenceCountUtil.release(m);
        }
        return sb.toString();
    }

    private static HttpResponse chunkedOk() {
        HttpResponse res = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        res.headers().set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        return res;
    }

    @Test
    void knownNamesAreSharedLowerCaseConstantsOthersKeepTheirSpelling() {
        EmbeddedChannel ch = new EmbeddedChannel(new Http1ServerCodec(new HttpDecoderConfig()));
        ch.writeInbound(ascii("GET /a HTTP/1.1\r\nHost: h\r\nUser-Agent: t\r\nX-Custom-Thing: 1\r\n\r\n"));
        HttpRequest req = ch.readInbound();
        List<CharSequence> names = new ArrayList<>();
        for (Iterator<Map.Entry<CharSequence, CharSequence>> it = req.headers().iteratorCharSequence(); it.hasNext(); ) {
            names.add(it.next().getKey());
        }
        assertThat(names).extracting(CharSequence::toString).containsExactly("host", "user-agent", "X-Custom-Thing");
        byte[] host = "Host".getBytes(StandardCharsets.US_ASCII);
        assertThat(names.get(0)).isSameAs(HeadsToHttp2.knownName(host, 0, host.length));
        assertThat(req.headers().get("HOST")).isEqualTo("h");
        ReferenceCountUtil.release(ch.readInbound()); // the empty end
        ch.finishAndReleaseAll();
    }

    /**
     * A repeated request header value is the connection's one object, checked when first seen
     * (a value with a control character in a later request is still refused, 400 material); a
     * credential and a value over the length limit are not kept.
     */
    @Test
    void repeatedValuesAreSharedAndABadOneIsStillRefused() {
        EmbeddedChannel ch = new EmbeddedChannel(new Http1ServerCodec(new HttpDecoderConfig()));
        CompactHttpHeaders[] ab = twice(ch, "Host: h\r\nAuthorization: Bearer t\r\n");
        assertThat((Object) ab[1].value("host")).isSameAs(ab[0].value("host")).isInstanceOf(io.netty.util.AsciiString.class);
        assertThat((Object) ab[1].value("authorization")).as("a credential is not kept").isNotSameAs(ab[0].value("authorization"));

        String longest = "v".repeat(CompactHttpHeaders.Repeats.MAX_VALUE);
        String tooLong = longest + "v";
        CompactHttpHeaders[] cd = twice(ch, "x-1: " + longest + "\r\nx-2: " + tooLong + "\r\n");
        assertThat((Object) cd[1].value("x-1")).as("a value at the limit is kept").isSameAs(cd[0].value("x-1"));
        assertThat((Object) cd[1].value("x-2")).as("a longer one is not").isNotSameAs(cd[0].value("x-2"));
        assertThat(cd[1].get("x-2")).isEqualTo(tooLong);

        ch.writeInbound(ascii("GET /c HTTP/1.1\r\nHost: h\u0001\r\n\r\n"));
        HttpRequest bad = ch.readInbound();
        assertThat(bad.decoderResult().isFailure()).isTrue();
        assertThat(bad.decoderResult().cause()).hasMessageContaining("host");
        ReferenceCountUtil.release(bad);
        ch.finishAndReleaseAll();
    }

    /** Two GET requests with the same header lines, read: their header maps. */
    private static CompactHttpHeaders[] twice(EmbeddedChannel ch, String headerLines) {
        ch.writeInbound(ascii("GET /a HTTP/1.1\r\n" + headerLines + "\r\nGET /b HTTP/1.1\r\n" + headerLines + "\r\n"));
        CompactHttpHeaders[] maps = new CompactHttpHeaders[2];
        for (int i = 0; i < 2; i++) {
            HttpRequest req = ch.readInbound();
            maps[i] = (CompactHttpHeaders) req.headers();
            ReferenceCountUtil.release(ch.readInbound()); // the empty end
        }
        return maps;
    }

    /** A response to HEAD has no body, whatever its framing headers say; Netty's codec knows it from the request, as this one must. */
    /** The body parts the relay writes are encoded by the codec (accepted by their class), not passed on as objects. */
    @Test
    void encodesAStreamedBodyChunkByChunk() {
        Http1ServerCodec codec = new Http1ServerCodec(new HttpDecoderConfig());
        EmbeddedChannel ch = new EmbeddedChannel(codec);
        ch.writeInbound(ascii("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"));
        ReferenceCountUtil.release(ch.readInbound());
        ReferenceCountUtil.release(ch.readInbound());
        ch.writeOutbound(chunkedOk(), new DefaultHttpContent(ascii("hello")), new DefaultLastHttpContent(ascii(" world")));
        assertThat(written(ch)).isEqualTo("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
        ch.finishAndReleaseAll();
    }

    @Test
    void aResponseToHeadGetsNoBodyEvenWhenChunked() {
        EmbeddedChannel ch = new EmbeddedChannel(new Http1ServerCodec(new HttpDecoderConfig()));
        ch.writeInbound(ascii("HEAD /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"));
        assertThat(((HttpRequest) ch.readInbound()).method()).isEqualTo(HttpMethod.HEAD);
        ch.writeOutbound(chunkedOk(), LastHttpContent.EMPTY_LAST_CONTENT);
        assertThat(written(ch)).endsWith("transfer-encoding: chunked\r\n\r\n");
        ch.writeOutbound(chunkedOk(), LastHttpContent.EMPTY_LAST_CONTENT); // the GET's: its chunked end is written
        assertThat(written(ch)).endsWith("\r\n\r\n0\r\n\r\n");
        ch.finishAndReleaseAll();
    }

    @Test
    void aTunnelsSuccessLosesItsTransferEncoding() {
        EmbeddedChannel ch = new EmbeddedChannel(new Http1ServerCodec(new HttpDecoderConfig()));
        ch.writeInbound(ascii("CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n"));
        ch.writeOutbound(chunkedOk());
        assertThat(written(ch)).doesNotContainIgnoringCase("transfer-encoding");
        ch.finishAndReleaseAll();
    }

    /** Past 128 requests read ahead of their responses the rest is discarded, and the connection closes after the next response. */
    @Test
    void tooManyPipelinedRequestsCloseTheConnectionAfterTheNextResponse() {
        EmbeddedChannel ch = new EmbeddedChannel(new Http1ServerCodec(new HttpDecoderConfig()));
        assertThatThrownBy(() -> ch.writeInbound(ascii("GET / HTTP/1.1\r\nHost: h\r\n\r\n".repeat(Http1ServerCodec.MAX_PIPELINE_DEPTH + 5))))
                .hasRootCauseMessage("maxPipelineDepth exceeded: " + Http1ServerCodec.MAX_PIPELINE_DEPTH);
        int requests = 0;
        for (Object m; (m = ch.readInbound()) != null; ) {
            if (m instanceof HttpRequest req) {
                requests += req.decoderResult().isSuccess() ? 1 : 0;
            }
            ReferenceCountUtil.release(m);
        }
        assertThat(requests).isEqualTo(Http1ServerCodec.MAX_PIPELINE_DEPTH);
        assertThat(ch.isOpen()).isTrue();
        ch.writeOutbound(chunkedOk(), LastHttpContent.EMPTY_LAST_CONTENT);
        written(ch);
        assertThat(ch.isOpen()).as("closed after the response").isFalse();
        ch.finishAndReleaseAll();
    }

    /** Transfer-Encoding and Content-Length together: refused, as a request smuggling attempt would be (RFC 9112 6.1). */
    @Test
    void refusesARequestWithBothFramings() {
        EmbeddedChannel ch = new EmbeddedChannel(new Http1ServerCodec(new HttpDecoderConfig()));
        ch.writeInbound(ascii("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
        HttpRequest req = ch.readInbound();
        assertThat(req.decoderResult().cause()).hasMessageContaining("Content-Length are not allowed");
        ch.finishAndReleaseAll();
    }
}
