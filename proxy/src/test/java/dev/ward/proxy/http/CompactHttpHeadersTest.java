package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.ward.proxy.config.SidecarConfig;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Date;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CompactHttpHeadersTest {

    @Test
    void valuesAreCheckedByNettysRuleEightBytesAtATime() {
        // Bytes drawn mostly from the edges of the rule (controls, HTAB, SP, DEL, obs-text), values of
        // every length up to 40 at every offset: the word-at-a-time check answers as Netty's loop does.
        byte[] edges = {0x00, 0x01, 0x08, 0x09, 0x0A, 0x0D, 0x1F, 0x20, 0x21, 0x41, 0x7E, 0x7F, (byte) 0x80, (byte) 0x9F, (byte) 0xFF};
        Random r = new Random(11);
        int invalid = 0;
        for (int n = 0; n < 50_000; n++) {
            int len = r.nextInt(41);
            int off = r.nextInt(8);
            byte[] b = new byte[off + len + r.nextInt(8)];
            r.nextBytes(b);
            for (int i = off; i < off + len; i++) {
                b[i] = r.nextInt(40) == 0 ? edges[r.nextInt(edges.length)] : (byte) (0x21 + r.nextInt(0x5E));
            }
            AsciiString v = new AsciiString(b, off, len, false);
            int expected = io.netty.handler.codec.http.HttpHeaderValidationUtil.validateValidHeaderValue(v);
            assertThat(CompactHttpHeaders.invalidIndex(b, off, len)).as("%s", v).isEqualTo(expected);
            invalid += expected >= 0 ? 1 : 0;
        }
        assertThat(invalid).as("both answers were tried often").isBetween(5_000, 45_000);
        String token = "Bearer " + "eyJhbGciOiJSUzI1NiJ9".repeat(30);
        assertThat(CompactHttpHeaders.invalidValue(AsciiString.of(token))).isNull();
        assertThat(CompactHttpHeaders.invalidValue(AsciiString.of(token + "\u007f"))).isEqualTo(
                "a header value contains prohibited character 0x7f at index " + token.length() + '.');
        assertThat(CompactHttpHeaders.invalidValue(AsciiString.of(token.substring(0, 300) + "\t\r" + token.substring(300))))
                .endsWith("0xd at index 301.");
    }


    private static final CharSequence[] NAMES = {"Host", "host", HttpHeaderNames.CONTENT_LENGTH, "Content-Length", "x-a",
            AsciiString.of("X-A"), "connection", "Connection", "traceparent", "cookie", "x-forwarded-for", "Accept"};
    private static final CharSequence[] VALUES = {"1", "42", "close", "keep-alive, Close", "spaced out", "a=1; b=2", "",
            AsciiString.of("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), "text/plain", "x", "CLOSE"};

    /** Netty's map with validation on, the reference. */
    private static HttpHeaders netty() {
        return DefaultHttpHeadersFactory.headersFactory().newHeaders();
    }

    /** Everything a reader can ask, as plain values, so the two maps' answers compare with equals. */
    private static List<Object> view(HttpHeaders h) {
        List<Object> v = new ArrayList<>();
        v.add(h.size());
        v.add(h.isEmpty());
        List<String> pairs = new ArrayList<>();
        for (Iterator<Map.Entry<CharSequence, CharSequence>> it = h.iteratorCharSequence(); it.hasNext(); ) {
            Map.Entry<CharSequence, CharSequence> e = it.next();
            pairs.add(e.getKey() + ": " + e.getValue());
        }
        v.add(pairs);
        List<String> strings = new ArrayList<>();
        for (Map.Entry<String, String> e : h) {
            strings.add(e.getKey() + ": " + e.getValue());
        }
        v.add(strings);
        v.add(h.entries().toString());
        for (CharSequence n : NAMES) {
            v.add(h.get(n));
            v.add(h.get(n.toString()));
            v.add(h.getAll(n));
            v.add(h.contains(n));
            v.add(h.getInt(n));
            List<String> values = new ArrayList<>();
            h.valueCharSequenceIterator(n).forEachRemaining(x -> values.add(x.toString()));
            values.sort(null); // Netty's iterates a name's values newest first, this map in the order added (as getAll)
            v.add(values);
            for (CharSequence val : VALUES) {
                v.add(h.contains(n, val, true));
                v.add(h.contains(n, val, false));
                v.add(h.containsValue(n, val, true));
                v.add(h.containsValue(n, val, false));
            }
        }
        return v;
    }

    /** Equal views, or the first answer that differs and where. */
    private static void assertSame(List<Object> actual, List<Object> expected, String where) {
        assertThat(actual).hasSameSizeAs(expected);
        for (int i = 0; i < actual.size(); i++) {
            assertThat(actual.get(i)).as("%s, answer %d", where, i).isEqualTo(expected.get(i));
        }
    }

    @Test
    void answersAsNettysMapThroughRandomChanges() {
        Random r = new Random(20261203);
        for (int round = 0; round < 200; round++) {
            HttpHeaders ref = netty();
            // Every third map starts with room for 1-9 headers (as HeadsToHttp2 sizes them), the others empty: both grow.
            HttpHeaders compact = round % 3 == 0 ? new CompactHttpHeaders(1 + round % 9) : new CompactHttpHeaders();
            for (int step = 0; step < 30; step++) {
                CharSequence n = NAMES[r.nextInt(NAMES.length)];
                CharSequence val = VALUES[r.nextInt(VALUES.length)];
                switch (r.nextInt(8)) {
                    case 0, 1, 2 -> {
                        ref.add(n, val);
                        compact.add(n, val);
                    }
                    case 3 -> {
                        ref.set(n, val);
                        compact.set(n, val);
                    }
                    case 4 -> {
                        ref.remove(n);
                        compact.remove(n);
                    }
                    case 5 -> {
                        ref.addInt(n, step);
                        compact.addInt(n, step);
                    }
                    case 6 -> {
                        ref.set(n, List.of(val, "second"));
                        compact.set(n, List.of(val, "second"));
                    }
                    default -> {
                        if (r.nextInt(10) == 0) {
                            ref.clear();
                            compact.clear();
                        }
                    }
                }
                assertSame(view(compact), view(ref), "round " + round + " step " + step + ": " + ref);
            }
            assertThat(view(compact.copy())).isEqualTo(view(ref));
            assertThat(view(new CompactHttpHeaders().set(compact))).isEqualTo(view(ref));
            assertThat(view(netty().add(compact))).isEqualTo(view(ref));
        }
    }

    /** {@code removeAll} leaves what removing each of the set's names in turn leaves, in the same order. */
    @Test
    void removeAllIsRemoveForEachName() {
        List<AsciiString> setNames = List.of(AsciiString.of("connection"), AsciiString.of("x-a"), AsciiString.of("te"),
                AsciiString.of("traceparent"), AsciiString.of("x-a")); // a repeat
        NameTable set = new NameTable(setNames);
        Random random = new Random(7);
        for (int round = 0; round < 2_000; round++) {
            CompactHttpHeaders one = new CompactHttpHeaders();
            CompactHttpHeaders each = new CompactHttpHeaders();
            for (int i = random.nextInt(12); i > 0; i--) {
                CharSequence name = random.nextInt(6) == 0 ? "TE" : NAMES[random.nextInt(NAMES.length)];
                CharSequence value = VALUES[random.nextInt(VALUES.length)];
                one.add(name, value);
                each.add(name, value);
            }
            one.removeAll(set);
            for (AsciiString name : setNames) {
                each.remove(name);
            }
            assertThat(entries(one)).as("round %d", round).isEqualTo(entries(each));
            assertThat(one.size()).isEqualTo(each.size());
        }
        assertThat(set.contains("CONNECTION")).isTrue();
        assertThat(set.contains(AsciiString.of("traceparent"))).isTrue();
        assertThat(set.contains("connectio")).isFalse();
        assertThat(set.contains("a-much-longer-name-than-any-in-the-set")).isFalse();
    }

    private static List<String> entries(HttpHeaders h) {
        List<String> out = new ArrayList<>();
        for (Iterator<Map.Entry<CharSequence, CharSequence>> it = h.iteratorCharSequence(); it.hasNext(); ) {
            Map.Entry<CharSequence, CharSequence> e = it.next();
            out.add(e.getKey() + ": " + e.getValue());
        }
        return out;
    }

    /**
     * An entry from {@code iteratorCharSequence} is the header under the iterator (the map keeps no
     * entry objects): it can be read and set until {@code next()}, then shows the next header.
     * {@code entries()} copies.
     */
    @Test
    void iterationHandsOutTheHeaderUnderTheCursor() {
        HttpHeaders h = new CompactHttpHeaders().add("a", "1").add("B", "2").add("a", "3");
        Iterator<Map.Entry<CharSequence, CharSequence>> it = h.iteratorCharSequence();
        Map.Entry<CharSequence, CharSequence> first = it.next();
        assertThat(first.getKey()).hasToString("a");
        assertThat(first.setValue("one")).hasToString("1");
        assertThat(h.getAll("A")).containsExactly("one", "3");
        assertThat(it.next().getValue()).hasToString("2");
        assertThat(first.getKey()).as("the same view, moved on").hasToString("B");
        assertThat(it.next().toString()).isEqualTo("a=3");
        assertThat(it.hasNext()).isFalse();
        assertThatThrownBy(it::next).isInstanceOf(java.util.NoSuchElementException.class);

        List<Map.Entry<String, String>> copies = h.entries();
        h.set("a", "changed").remove("b");
        assertThat(copies).extracting(Map.Entry::getValue).containsExactly("one", "2", "3");
        assertThat(h.entries()).extracting(Map.Entry::getValue).containsExactly("changed");
        assertThat(new CompactHttpHeaders().iteratorCharSequence().hasNext()).isFalse();
    }

    @Test
    void refusesWhatNettyRefusesWithItsMessages() {
        for (String[] bad : new String[][] {{"bad name", "v"}, {"", "v"}, {"x-a", "a\r\nInjected: yes"}, {"x-a", "a\nb"},
                {"x-a", "nul\0"}, {"x-a", " leading space"}, {"x:a", "v"}, {"x-é", "v"}}) {
            Throwable expected = catchThrowable(() -> netty().add(bad[0], bad[1]));
            assertThat(expected).as(bad[0]).isInstanceOf(IllegalArgumentException.class);
            HttpHeaders compact = new CompactHttpHeaders().add("ok", "1");
            assertThatThrownBy(() -> compact.add(bad[0], bad[1])).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(expected.getMessage())
                    .satisfies(t -> assertThat(String.valueOf(t.getCause())).isEqualTo(String.valueOf(expected.getCause())));
            assertThatThrownBy(() -> compact.set(bad[0], bad[1])).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(expected.getMessage());
            assertThat(compact.size()).as("a refused header leaves the map as it was").isEqualTo(1);
        }
        Map.Entry<CharSequence, CharSequence> entry = new CompactHttpHeaders().add("x-a", "1").iteratorCharSequence().next();
        assertThatThrownBy(() -> entry.setValue("a\r\nb")).isInstanceOf(IllegalArgumentException.class);
        assertThat(entry.getValue()).hasToString("1");
        for (String framing : new String[] {"Content-Length", "transfer-encoding", "Trailer"}) {
            assertThatThrownBy(() -> CompactHttpHeaders.TRAILERS.newHeaders().add(framing, "1"))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("prohibited trailing header");
        }
        assertThat(CompactHttpHeaders.TRAILERS.newHeaders().add("x-checksum", "1").get("X-Checksum")).isEqualTo("1");
    }

    @Test
    void convertsValuesAsNettyDoes() {
        Date date = new Date(1_780_000_000_000L);
        HttpHeaders ref = netty().add("date", date).addShort("s", (short) 7).add("n", 12L);
        HttpHeaders compact = new CompactHttpHeaders().add("date", date).addShort("s", (short) 7).add("n", 12L);
        assertThat(view(compact)).isEqualTo(view(ref));
        assertThat(compact.getTimeMillis("date")).isEqualTo(date.getTime());
        assertThat(compact.getShort("s")).isEqualTo((short) 7);
        assertThat(compact.getInt("date")).as("not a number").isNull();
        assertThat(compact.getInt("missing", -1)).isEqualTo(-1);
    }

    /** Through Netty's HTTP/1.1 decoder, as the listener uses it: the same request, and a 400 for a bad header. */
    @Test
    void decodesRequestsThroughNettysDecoder() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.pipeline().addLast(new Http1ServerCodec(new SidecarConfig.Limits(null, null, null, null, null, null, null)),
                new HttpObjectAggregator(1024));
        ByteBuf in = Unpooled.copiedBuffer("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: keep-alive, Upgrade\r\n"
                + "X-A: 1\r\nx-a: 2\r\n\r\nhi", StandardCharsets.US_ASCII);
        ch.writeInbound(in);
        FullHttpRequest req = ch.readInbound();
        assertThat(req.decoderResult().isSuccess()).isTrue();
        assertThat(req.headers()).isInstanceOf(CompactHttpHeaders.class);
        assertThat(req.headers().getAll("X-A")).containsExactly("1", "2");
        assertThat(HttpUtil.getContentLength(req)).isEqualTo(2);
        assertThat(HttpUtil.isKeepAlive(req)).isTrue();
        assertThat(req.headers().containsValue(HttpHeaderNames.CONNECTION, "upgrade", true)).isTrue();
        assertThat(req.content().toString(StandardCharsets.US_ASCII)).isEqualTo("hi");
        req.release();

        ch.writeInbound(Unpooled.copiedBuffer("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", StandardCharsets.US_ASCII));
        HttpRequest bad = ch.readInbound();
        assertThat(bad.decoderResult().isFailure()).isTrue();
        assertThat(bad.decoderResult().cause()).hasMessageContaining("a header name can only contain \"token\" characters");
        ch.finishAndReleaseAll();
    }

    /**
     * A plain request head is read into a map made for its headers and the two the proxy adds
     * (not the usual eight), and {@code room} on a map that holds some grows it by what is asked.
     */
    @Test
    void aPlainHeadsMapIsMadeForItsHeadersAndWhatTheProxyAdds() {
        EmbeddedChannel ch = new EmbeddedChannel(new Http1ServerCodec(new SidecarConfig.Limits(null, null, null, null, null, null, null)));
        ch.writeInbound(Unpooled.copiedBuffer("GET /a HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nX-A: 1\r\n\r\n", StandardCharsets.US_ASCII));
        HttpRequest req = ch.readInbound();
        CompactHttpHeaders headers = (CompactHttpHeaders) req.headers();
        assertThat(headers.capacity()).isEqualTo(3 + PlainHead.REQUEST_SPARE).isEqualTo(5);
        headers.set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00").set("x-ward-peer-identity", "spiffe://td/x");
        assertThat(headers.capacity()).as("added without growing").isEqualTo(5);
        assertThat(req.headers().get("accept")).isEqualTo("*/*");
        ch.finishAndReleaseAll();

        CompactHttpHeaders h = new CompactHttpHeaders(1);
        h.add("a", "1");
        h.room(2);
        assertThat(h.capacity()).isEqualTo(3);
        h.add("b", "2").add("c", "3").add("d", "4"); // past the room: grows as usual
        assertThat(h.names()).containsExactly("a", "b", "c", "d");
        assertThat(h.capacity()).isEqualTo(8);
    }
}
