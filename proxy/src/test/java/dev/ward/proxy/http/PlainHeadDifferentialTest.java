package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpExpectationFailedEvent;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link Http1ClientCodec} and {@link Http1ServerCodec} read plain heads themselves
 * ({@link PlainHead}) and leave all others to Netty's decoder. Whatever the bytes and however
 * they are cut into reads, what comes out must be what comes out of the same codec with every
 * head left to Netty's decoder: the same messages, headers, body pieces, errors and end.
 */
class PlainHeadDifferentialTest {

    private static final String[] STATUS_LINES = {
        "HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found", "HTTP/1.1 503 Service Unavailable",
        "HTTP/1.1 200 Fine", "HTTP/1.0 200 OK", "HTTP/1.1 204 No Content", "HTTP/1.1 304 Not Modified",
        "HTTP/1.1 299 Whatever", "HTTP/1.1 200 ", "HTTP/1.1 200", "HTTP/1.1  200 OK", "HTTP/1.1 2x0 OK", "HTTP/1.1 200 OKAY",
        "HTTP/2.0 200 OK", "http/1.1 200 OK", "HTTP/1.1 600 Six", "HTTP/1.1 199 Early",
    };
    private static final String[] HEADERS = {
        "Server: nginx", "Server: nginx/1.22.1", "Date: Sat, 05 Dec 2026 05:20:11 GMT", "Date: Sat, 05 Dec 2026 05:20:12 GMT",
        "Content-Type: text/plain", "X-Custom:  spaced value  ", "X-Empty:", "X-Blank:   ", "X-Tab:\tv\t", "Set-Cookie: a=b",
        "ETag: \"5f-1\"", "Connection: keep-alive", "CONNECTION: close", "X-Obs: caf\u00e9", "Bad Name: x", "X-Ctl: a\u0001b",
        "X-Ows : v", "X-Fold: a\r\n  b", ": novalue", "X-Del: a\u007fb", "Vary: Accept-Encoding", "X-Long: " + "v".repeat(300),
        "Trailer: X-T", "Keep-Alive: timeout=5",
        // Long values, read eight bytes at a time where all are visible: each kind of byte that stops
        // that, at positions that fall differently within the words as the heads before them vary.
        "Authorization: Bearer " + "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9".repeat(15),
        "X-Long-Space: " + "abcdefghij".repeat(3) + " " + "klmnopq".repeat(4), "X-Long-Tab: " + "abcdefgh".repeat(3) + "\t\t" + "z".repeat(17),
        "X-Long-Ctl: " + "q".repeat(29) + "\u0001" + "q".repeat(13), "X-Long-Del: " + "r".repeat(21) + "\u007f" + "r".repeat(30),
        "X-Long-Obs: " + "s".repeat(19) + "\u00ff" + "s".repeat(9), "X-Long-Trail: " + "t".repeat(23) + "   \t  ",
        "X-Long-Cr: " + "u".repeat(27) + "\rv" + "u".repeat(8),
    };

    @Test
    void aWordIsVisibleExactlyWhenEachOfItsBytesIs() {
        Random random = new Random(8);
        byte[] edges = {0x00, 0x09, 0x0D, 0x1F, 0x20, 0x21, 0x22, 0x7D, 0x7E, 0x7F, (byte) 0x80, (byte) 0xFE, (byte) 0xFF};
        int visible = 0;
        for (int n = 0; n < 200_000; n++) {
            long x = 0;
            boolean expected = true;
            for (int i = 0; i < 8; i++) {
                int c = random.nextInt(12) == 0 ? edges[random.nextInt(edges.length)] & 0xFF : 0x21 + random.nextInt(0x5E);
                expected &= c >= 0x21 && c <= 0x7E;
                x |= (long) c << (8 * i);
            }
            assertThat(AsciiWords.visible(x)).as("%016x", x).isEqualTo(expected);
            visible += expected ? 1 : 0;
        }
        assertThat(visible).as("both answers were tried often").isBetween(40_000, 160_000);
    }

    @Test
    void whatComesOutOfTheClientCodecIsWhatNettysDecoderMakesOfTheSameBytes() {
        Random random = new Random(20261205);
        int plain = 0;
        for (int c = 0; c < 4000; c++) {
            List<HttpMethod> methods = new ArrayList<>();
            StringBuilder wire = new StringBuilder();
            int responses = 1 + random.nextInt(3);
            for (int r = 0; r < responses; r++) {
                HttpMethod method = random.nextInt(8) == 0 ? HttpMethod.HEAD : random.nextBoolean() ? HttpMethod.GET : HttpMethod.POST;
                methods.add(method);
                boolean last = r == responses - 1;
                wire.append(response(random, last));
            }
            int maxChunk = maxChunk(random);
            int maxHeader = maxHeader(random);
            Http1ClientCodec fast = new Http1ClientCodec(8192, maxHeader, maxChunk);
            assertSameOutput(c, wire, client(new Http1ClientCodec(8192, maxHeader, maxChunk, false), methods), client(fast, methods), random);
            plain += fast.decoder().plainHeads();
        }
        assertThat(plain).as("heads read by Ward's own path").isGreaterThan(500);
    }

    private static String response(Random random, boolean last) {
        return message(random, last, "HTTP/1.1 200 OK", STATUS_LINES, HEADERS, 6, false);
    }

    /**
     * A message: maybe a stray empty line first, an interim response before a response, the plain
     * start line or a random one (maybe ended by a bare LF), up to five headers (mostly from the
     * first {@code common} of {@code headers}), then its framing and body ({@link #framed}).
     */
    private static String message(Random random, boolean last, String plainLine, String[] lines, String[] headers, int common,
            boolean request) {
        StringBuilder b = new StringBuilder();
        if (random.nextInt(20) == 0) {
            b.append("\r\n");
        }
        if (!request && random.nextInt(10) == 0) {
            b.append("HTTP/1.1 100 Continue\r\n\r\n");
        }
        String eol = random.nextInt(30) == 0 ? "\n" : "\r\n";
        b.append(random.nextBoolean() ? plainLine : lines[random.nextInt(lines.length)]).append(eol);
        int count = random.nextInt(6);
        for (int i = 0; i < count; i++) {
            b.append(random.nextInt(6) == 0 ? headers[random.nextInt(headers.length)] : headers[random.nextInt(common)]).append("\r\n");
        }
        return framed(random, b, last, request);
    }

    /**
     * Ends the head in {@code b} with framing headers (none, a length plain or odd, chunked, both,
     * two lengths) and adds the body, whole or cut short by the close if {@code last}.
     */
    private static String framed(Random random, StringBuilder b, boolean last, boolean request) {
        String body = "b".repeat(random.nextInt(3) == 0 ? 0 : random.nextInt(40));
        int framing = random.nextInt(16);
        if (request ? framing < 4 : framing == 0 && last) {
            b.append("\r\n"); // no length: a request has no body, a response's runs to the close
            return request ? b.toString() : b.append(body).toString();
        }
        if (framing == 4) {
            b.append("Transfer-Encoding: chunked\r\n\r\n");
            if (!body.isEmpty()) {
                b.append(Integer.toHexString(body.length())).append("\r\n").append(body).append("\r\n");
            }
            return b.append("0\r\n\r\n").toString();
        }
        String length = switch (framing) {
            case 5 -> "0" + body.length();
            case 6 -> body.length() + ", " + body.length();
            case 7 -> " " + body.length() + " ";
            case 8 -> body.length() + "x";
            case 9 -> "-1";
            default -> Integer.toString(body.length());
        };
        b.append(random.nextInt(4) == 0 ? "content-LENGTH" : "Content-Length").append(": ").append(length).append("\r\n");
        if (framing == 10) {
            b.append(random.nextBoolean() ? "Content-Length: " + body.length() : "Transfer-Encoding: chunked").append("\r\n");
        }
        b.append(random.nextInt(4) == 0 ? "X-After: 1\r\n" : "").append("\r\n");
        if (last && random.nextInt(8) == 0) {
            return b.append(body, 0, body.length() / 2).toString(); // cut short by the close
        }
        return b.append(body).toString();
    }

    /** A client codec's channel that has sent requests of these methods. */
    private static EmbeddedChannel client(Http1ClientCodec codec, List<HttpMethod> methods) {
        EmbeddedChannel ch = new EmbeddedChannel(codec);
        for (HttpMethod m : methods) {
            ch.writeOutbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, m, "/"));
        }
        for (Object o; (o = ch.readOutbound()) != null; ) {
            ReferenceCountUtil.release(o);
        }
        return ch;
    }

    private static final String[] REQUEST_LINES = {
        "GET /orders/42?x=1 HTTP/1.1", "POST /p HTTP/1.1", "PUT /p HTTP/1.1", "DELETE /p HTTP/1.1", "HEAD / HTTP/1.1",
        "OPTIONS * HTTP/1.1", "PATCH /p HTTP/1.1", "TRACE / HTTP/1.1", "CONNECT h:443 HTTP/1.1", "get / HTTP/1.1",
        "GET  / HTTP/1.1", "GET / HTTP/1.0", "GET / HTTP/1.1 ", "GET /a b HTTP/1.1", "GET /\"<>{}|\\^` HTTP/1.1",
        "BREW / HTTP/1.1", "GET http://h/x HTTP/1.1", "GET / HTTP/2.0", "GET /caf\u00e9 HTTP/1.1", "GET /a\u0001 HTTP/1.1",
        "GET", "GET /", "GET / HTTP/1.1x", " GET / HTTP/1.1", "GETS /x HTTP/1.1", "GET_/x HTTP/1.1", "POSTED / HTTP/1.1",
    };
    private static final String[] REQUEST_HEADERS = {
        "Host: orders", "User-Agent: curl/8.5.0", "Accept: */*", "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "Content-Type: application/json", "Authorization: Bearer abc.def", "Expect: 100-continue", "Host: a b", "Host:",
        "Connection: close", "Upgrade: websocket", "Transfer-Encoding: gzip", "Transfer-Encoding: gzip, chunked", "X-Fold: a\r\n b",
        "Bad Name: x", "X-Ctl: a\u0001b", "X-Obs: caf\u00e9", "X-Ows : v", "Cookie: a=1; b=2",
    };

    @Test
    void whatComesOutOfTheServerCodecIsWhatNettysDecoderMakesOfTheSameBytes() {
        Random random = new Random(45);
        long plain = 0;
        for (int c = 0; c < 4000; c++) {
            StringBuilder wire = new StringBuilder();
            int requests = 1 + random.nextInt(3);
            for (int r = 0; r < requests; r++) {
                wire.append(request(random, r == requests - 1));
            }
            HttpDecoderConfig config = new HttpDecoderConfig().setMaxHeaderSize(maxHeader(random)).setMaxChunkSize(maxChunk(random));
            Http1ServerCodec fast = new Http1ServerCodec(config.clone());
            assertSameOutput(c, wire, new EmbeddedChannel(new Http1ServerCodec(config.clone(), false)), new EmbeddedChannel(fast), random);
            plain += fast.decoder().plainHeads();
        }
        assertThat(plain).as("heads read by Ward's own path").isGreaterThan(500);
    }

    /** A failed expectation ends the body under way, read here or by Netty's decoder: the next bytes are a new request. */
    @Test
    void aFailedExpectationEndsTheBodyAsNettysDecoderEndsIt() {
        List<List<String>> outs = new ArrayList<>();
        for (boolean here : new boolean[] {false, true}) {
            Http1ServerCodec codec = new Http1ServerCodec(new HttpDecoderConfig(), here);
            EmbeddedChannel ch = new EmbeddedChannel(codec);
            List<String> out = new ArrayList<>();
            ch.writeInbound(Unpooled.copiedBuffer("POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\nab",
                    StandardCharsets.ISO_8859_1));
            drain(ch, out);
            ch.pipeline().fireUserEventTriggered(HttpExpectationFailedEvent.INSTANCE);
            ch.writeInbound(Unpooled.copiedBuffer("GET /next HTTP/1.1\r\nHost: h\r\n\r\n", StandardCharsets.ISO_8859_1));
            drain(ch, out);
            ch.finishAndReleaseAll();
            assertThat(codec.decoder().plainHeads()).isEqualTo(here ? 2 : 0);
            outs.add(out);
        }
        assertThat(outs.get(1)).isEqualTo(outs.get(0)).anySatisfy(o -> assertThat(o).startsWith("request GET /next"));
    }

    private static String request(Random random, boolean last) {
        return message(random, last, "GET / HTTP/1.1", REQUEST_LINES, REQUEST_HEADERS, 4, true);
    }

    /** Netty's default body piece, or one small enough to cut the test's bodies. */
    private static int maxChunk(Random random) {
        return random.nextBoolean() ? 8192 : 7;
    }

    /** The default header limit, or one that most heads here exceed. */
    private static int maxHeader(Random random) {
        return random.nextInt(4) == 0 ? 64 : 8192;
    }

    /** Feeds the same bytes, cut into reads the same random way, to both channels, and requires the same output. */
    private static void assertSameOutput(int c, CharSequence wire, EmbeddedChannel reference, EmbeddedChannel fast, Random random) {
        byte[] bytes = wire.toString().getBytes(StandardCharsets.ISO_8859_1);
        long seed = random.nextLong();
        List<String> expected = run(reference, bytes, new Random(seed));
        assertThat(run(fast, bytes, new Random(seed))).as("case %d: %s", c, wire.toString().replace("\r", "\\r").replace("\n", "\\n"))
                .isEqualTo(expected);
    }

    /** Feeds the bytes to the channel in random cuts, closes it, and describes all that came out. */
    private static List<String> run(EmbeddedChannel ch, byte[] bytes, Random cuts) {
        List<String> out = new ArrayList<>();
        for (int at = 0; at < bytes.length; ) {
            int n = cuts.nextBoolean() ? bytes.length - at : Math.min(bytes.length - at, 1 + cuts.nextInt(40));
            ch.writeInbound(Unpooled.wrappedBuffer(bytes, at, n));
            at += n;
            drain(ch, out);
        }
        ch.finish();
        drain(ch, out);
        out.add("closed");
        return out;
    }

    private static void drain(EmbeddedChannel ch, List<String> out) {
        for (Object o; (o = ch.readInbound()) != null; ) {
            out.add(describe(o));
            ReferenceCountUtil.release(o);
        }
    }

    private static String describe(Object o) {
        StringBuilder b = new StringBuilder();
        if (o instanceof HttpRequest r) {
            b.append("request ").append(r.method()).append(' ').append(r.uri()).append(' ').append(r.protocolVersion()).append(' ')
                    .append(r.getClass().getSimpleName()).append(headers(r.headers()));
        }
        if (o instanceof HttpResponse r) {
            b.append("response ").append(r.protocolVersion()).append(' ').append(r.status().code()).append(" '")
                    .append(r.status().reasonPhrase()).append("' ").append(r.getClass().getSimpleName()).append(headers(r.headers()));
        }
        if (o instanceof HttpContent c) {
            b.append(o instanceof LastHttpContent ? " last" : " content").append(" '").append(c.content().toString(StandardCharsets.ISO_8859_1)).append('\'');
            if (o instanceof LastHttpContent l) {
                b.append(" trailers").append(headers(l.trailingHeaders()));
            }
        }
        if (o instanceof HttpObject h) {
            DecoderResult d = h.decoderResult();
            b.append(d.isSuccess() ? " ok" : d.isFailure() ? " failed: " + d.cause() : " unfinished");
        } else if (o instanceof ByteBuf buf) {
            b.append("bytes '").append(buf.toString(StandardCharsets.ISO_8859_1)).append('\'');
        } else {
            b.append(o);
        }
        return b.toString();
    }

    private static String headers(io.netty.handler.codec.http.HttpHeaders h) {
        StringBuilder b = new StringBuilder(" [");
        for (Map.Entry<CharSequence, CharSequence> e : (Iterable<Map.Entry<CharSequence, CharSequence>>) h::iteratorCharSequence) {
            b.append(e.getKey()).append('=').append(e.getValue()).append(';');
        }
        return b.append(']').toString();
    }
}
