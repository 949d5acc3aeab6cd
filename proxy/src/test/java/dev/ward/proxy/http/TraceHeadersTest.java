package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ward.telemetry.tracing.TraceParent;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import org.junit.jupiter.api.Test;

/** The trace headers as the proxy reads and writes them: the same values as the SDK's getter and setter, without String copies. */
class TraceHeadersTest {

    private static final String TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";

    @Test
    void readsTheValueTheGetterWouldWithoutCopyingIt() {
        HttpHeaders h = new DefaultHttpHeaders();
        assertThat(TraceHeaders.traceparent(h)).isNull();

        AsciiString decoded = new AsciiString(TP);
        h.add("Traceparent", decoded);
        assertThat(TraceHeaders.traceparent(h)).as("the headers' own value, not a copy").isSameAs(decoded);
        assertThat(TraceHeaders.traceparent(h).toString()).isEqualTo(TraceHeaders.GETTER.get(h, "traceparent"));

        String second = TP.replace("-00", "-01");
        h.add("traceparent", second);
        assertThat(TraceHeaders.traceparent(h).toString()).as("several: the one the getter answers")
                .isEqualTo(TraceHeaders.GETTER.get(h, "traceparent")).isEqualTo(TP);
    }

    @Test
    void writesBytesAsOneHeaderThatReplacesTheCallersAndEncodesAsItself() {
        HttpHeaders h = new DefaultHttpHeaders();
        h.add("TraceParent", TP);
        h.add("x-other", "1");
        byte[] mine = TraceParent.formatBytes(0x0af7651916cd43ddL, 0x8448eb211c80319cL, 0x1234, TraceParent.RANDOM);
        ((TraceParent.BytesSetter<HttpHeaders>) TraceHeaders.SETTER).setLatin1(h, TraceParent.HEADER, mine);

        String expected = "00-0af7651916cd43dd8448eb211c80319c-0000000000001234-02";
        assertThat(h.getAll("traceparent")).containsExactly(expected);
        assertThat(h.get("x-other")).isEqualTo("1");

        assertThat(EncodedRequests.get(h)).contains("\r\ntraceparent: " + expected + "\r\n");
    }

    /** Ward's own map (every relayed request's): the caller's values replaced where the first stood, duplicates gone, a new one last. */
    @Test
    void inWardsMapTheFirstOfTheCallersTakesTheNewValueInPlaceAndTheRestGo() {
        byte[] mine = TraceParent.formatBytes(0x0af7651916cd43ddL, 0x8448eb211c80319cL, 0x1234, TraceParent.RANDOM);
        String expected = "00-0af7651916cd43dd8448eb211c80319c-0000000000001234-02";
        var setter = (TraceParent.BytesSetter<HttpHeaders>) TraceHeaders.SETTER;

        HttpHeaders h = new CompactHttpHeaders();
        h.add("host", "orders");
        h.add("TraceParent", TP);
        h.add("x-other", "1");
        h.add("traceparent", TP.replace("-00", "-01"));
        h.add("x-last", "2");
        setter.setLatin1(h, TraceParent.HEADER, mine);
        assertThat(h.names()).hasSize(4);
        assertThat(h.getAll("traceparent")).containsExactly(expected);
        assertThat(h.entries()).extracting(e -> e.getKey().toLowerCase() + "=" + e.getValue())
                .containsExactly("host=orders", "traceparent=" + expected, "x-other=1", "x-last=2");

        HttpHeaders none = new CompactHttpHeaders();
        none.add("host", "orders");
        setter.setLatin1(none, TraceParent.HEADER, mine);
        assertThat(none.entries()).extracting(e -> e.getKey() + "=" + e.getValue())
                .containsExactly("host=orders", "traceparent=" + expected);
        assertThat(none.getAll("traceparent")).containsExactly(expected);
    }

    /**
     * A connection's encoder puts its first traceparent in HPACK's dynamic table and no other
     * (but every 1,024th): the ones after it are sent never indexed, with that entry's index for
     * their name (two bytes instead of thirteen: 11 bytes shorter); and they decode as sent.
     */
    @Test
    void aConnectionSendsTheTraceparentNameByIndexAfterItsFirst() throws Exception {
        io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder perConnection =
                new io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder(TraceHeaders.notIndexed());
        io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder spelledOut =
                new io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder(TraceHeaders.NOT_INDEXED);
        io.netty.handler.codec.http2.DefaultHttp2HeadersDecoder decoder = new io.netty.handler.codec.http2.DefaultHttp2HeadersDecoder();
        int[] sizes = new int[1026];
        int[] plain = new int[1026];
        for (int i = 0; i < sizes.length; i++) {
            String value = String.format("00-0af7651916cd43dd8448eb211c80319c-%016x-00", i + 1L);
            io.netty.handler.codec.http2.Http2Headers h = new io.netty.handler.codec.http2.DefaultHttp2Headers().add("traceparent", value);
            io.netty.buffer.ByteBuf a = io.netty.buffer.Unpooled.buffer();
            io.netty.buffer.ByteBuf b = io.netty.buffer.Unpooled.buffer();
            perConnection.encodeHeaders(3, h, a);
            spelledOut.encodeHeaders(3, h, b);
            sizes[i] = a.readableBytes();
            plain[i] = b.readableBytes();
            assertThat(decoder.decodeHeaders(3, a).get("traceparent").toString()).isEqualTo(value);
            a.release();
            b.release();
        }
        assertThat(sizes[0]).as("the first: added to the table, name and value spelled out").isEqualTo(plain[0]);
        assertThat(sizes[1]).as("then the name by index").isEqualTo(plain[1] - 11);
        assertThat(sizes[2]).as("its value was not added: a value again").isEqualTo(sizes[1]);
        assertThat(sizes[1024]).as("the 1,025th: added again, its name by index").isEqualTo(plain[1024] - 12);
        assertThat(sizes[1025]).isEqualTo(sizes[1]);
    }

    /**
     * The detector decides by length first; it must answer as the plain rule does (any case):
     * {@code traceparent}, {@code tracestate}, {@code b3}, every {@code x-b3-*}, {@code
     * authorization}, {@code proxy-authorization} and a cookie under 20 bytes never indexed,
     * nothing else, whatever the length (the B3 names are 10, 11, 12 and 17 characters long,
     * as long as the others').
     */
    @Test
    void theDetectorAnswersAsThePlainRuleForAnyName() {
        java.util.function.Predicate<String> rule = n -> n.equalsIgnoreCase("traceparent") || n.equalsIgnoreCase("tracestate")
                || n.equalsIgnoreCase("b3") || n.toLowerCase(java.util.Locale.ROOT).startsWith("x-b3-")
                || n.equalsIgnoreCase("authorization") || n.equalsIgnoreCase("proxy-authorization");
        java.util.List<String> names = new java.util.ArrayList<>(java.util.List.of("traceparent", "TraceParent", "tracestate",
                "TRACESTATE", "b3", "B3", "x-b3-flags", "x-b3-spanid", "X-B3-TraceId", "x-b3-sampled", "x-b3-parentspanid",
                "x-b3-", "x-b3", "x-b4-flags", "tracepareNt", "traceparenT1", "tracestat", "b", "b4", "bb3", "x", "xb3-flags",
                "host", "accept", "user-agent", "content-type", "x-request-id", "x-forwarded-for", ":path", ":authority",
                "traceresponse", "baggage", "x-ward-peer-identity", "Authorization", "authorizatioN", "authorisation",
                "proxy-authorization", "Proxy-Authorization", "proxy-authenticate", "www-authenticate", "cookie1",
                "set-cookie", "cookies"));
        java.util.Random r = new java.util.Random(46);
        String alphabet = "xXbB3-tracepnsdTRACEuhoizAy";
        for (int i = 0; i < 5_000; i++) {
            StringBuilder b = new StringBuilder();
            for (int k = r.nextInt(13); k > 0; k--) {
                b.append(alphabet.charAt(r.nextInt(alphabet.length())));
            }
            names.add(b.toString());
        }
        int trace = 0;
        for (String n : names) {
            boolean expected = rule.test(n);
            trace += expected ? 1 : 0;
            for (CharSequence name : new CharSequence[] {n, new AsciiString(n)}) {
                assertThat(TraceHeaders.NOT_INDEXED.isSensitive(name, "v")).as(n).isEqualTo(expected);
                assertThat(TraceHeaders.kind(name) == TraceHeaders.TRACEPARENT_HEADER).as(n)
                        .isEqualTo(n.equalsIgnoreCase("traceparent"));
            }
        }
        // A cookie: never indexed while short enough to guess (as nghttp2), indexed from 20 bytes.
        for (String cookie : new String[] {"cookie", "Cookie", "COOKIE"}) {
            assertThat(TraceHeaders.NOT_INDEXED.isSensitive(cookie, "sid=abc123")).as(cookie).isTrue();
            assertThat(TraceHeaders.NOT_INDEXED.isSensitive(cookie, "sid=0123456789abcdefghij")).as(cookie).isFalse();
            assertThat(TraceHeaders.notIndexed().isSensitive(cookie, "sid=abc123")).as(cookie).isTrue();
        }
        var perConnection = TraceHeaders.notIndexed();
        assertThat(perConnection.isSensitive("authorization", "Bearer x")).isTrue();
        assertThat(perConnection.isSensitive("accept", "*/*")).isFalse();
        assertThat(trace).as("names the rule marks, beyond the listed ones").isGreaterThan(12);
        // The names the conversion to HTTP/2 hands the encoder are these very constants.
        Object known = HeadsToHttp2.knownName("Traceparent".getBytes(java.nio.charset.StandardCharsets.US_ASCII), 0, 11);
        assertThat(known).isSameAs(TraceHeaders.TRACEPARENT);
    }

    /**
     * A bearer token goes between sidecars as a literal every time, never as an index into the
     * HPACK table that the connection's other requests share; an ordinary header that repeats is
     * indexed after its first time, as before.
     */
    @Test
    void credentialsAreNeverIndexedAndOtherRepeatsAre() throws Exception {
        io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder encoder =
                new io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder(TraceHeaders.notIndexed());
        io.netty.handler.codec.http2.DefaultHttp2HeadersDecoder decoder = new io.netty.handler.codec.http2.DefaultHttp2HeadersDecoder();
        String token = "Bearer eyJhbGciOiJSUzI1NiJ9." + "a".repeat(300) + ".sig";
        int[] sizes = new int[3];
        for (int i = 0; i < sizes.length; i++) {
            io.netty.handler.codec.http2.Http2Headers h = new io.netty.handler.codec.http2.DefaultHttp2Headers()
                    .add("authorization", token).add("x-tenant", "acme-corporation");
            io.netty.buffer.ByteBuf block = io.netty.buffer.Unpooled.buffer();
            encoder.encodeHeaders(3, h, block);
            sizes[i] = block.readableBytes();
            io.netty.handler.codec.http2.Http2Headers decoded = decoder.decodeHeaders(3, block);
            assertThat(decoded.get("authorization").toString()).isEqualTo(token);
            assertThat(decoded.get("x-tenant").toString()).isEqualTo("acme-corporation");
            block.release();
        }
        int tenantSpelledOut = 1 + 1 + "x-tenant".length() + 1 + "acme-corporation".length();
        assertThat(sizes[1]).as("the token spelled out again; x-tenant now one byte").isGreaterThan(token.length())
                .isEqualTo(sizes[0] - tenantSpelledOut + 1);
        assertThat(sizes[2]).isEqualTo(sizes[1]);
    }
}
