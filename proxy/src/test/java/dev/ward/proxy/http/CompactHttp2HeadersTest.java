package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersDecoder;
import io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CompactHttp2HeadersTest {

    /** The headers {@code nameAt} and {@code valueAt} read, in order. */
    private static List<String> byIndex(CompactHttp2Headers h) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < h.size(); i++) {
            out.add(h.nameAt(i) + ": " + h.valueAt(i));
        }
        return out;
    }

    @Test
    void readByIndexItselfOrAsACopyInTheSameOrder() {
        CompactHttp2Headers compact = new CompactHttp2Headers(4);
        compact.add("accept", "*/*").add(":path", "/a").add(":method", "GET").add("x-a", "1");
        assertThat(CompactHttp2Headers.compactOf(compact)).isSameAs(compact);
        assertThat(byIndex(compact)).containsExactly(":path: /a", ":method: GET", "accept: */*", "x-a: 1");
        Http2Headers netty = new DefaultHttp2Headers().add("accept", "*/*").path("/a").method("GET").add("x-a", "1");
        assertThat(byIndex(CompactHttp2Headers.compactOf(netty))).containsExactly(":path: /a", ":method: GET", "accept: */*", "x-a: 1");
        // A map gone over to Netty's (an operation it leaves to Netty) is read as a copy.
        CompactHttp2Headers moved = new CompactHttp2Headers(2);
        moved.add(":status", "200").add("x-b", "2");
        moved.setTimeMillis("date", 0);
        CompactHttp2Headers copy = CompactHttp2Headers.compactOf(moved);
        assertThat(copy).isNotSameAs(moved);
        assertThat(byIndex(copy)).containsExactly(":status: 200", "x-b: 2", "date: Thu, 01 Jan 1970 00:00:00 GMT");
    }


    private static final CharSequence[] NAMES = {":method", ":path", ":status", ":authority", ":scheme", "content-length",
            AsciiString.of("content-length"), "x-a", "X-A", "traceparent", "accept", "set-cookie"};
    private static final CharSequence[] VALUES = {"GET", "/a?b=1", "200", "42", "042", "", "text/plain", "Text/Plain",
            AsciiString.of("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), "https", "x"};

    /** The map this one stands in for, the reference. */
    private static Http2Headers netty() {
        return new DefaultHttp2Headers(false, false, 4);
    }

    /** Everything a reader asks, as plain values, so the two maps' answers compare with equals. */
    private static List<Object> view(Http2Headers h) {
        List<Object> v = new ArrayList<>();
        v.add(h.size());
        v.add(h.isEmpty());
        List<String> pairs = new ArrayList<>();
        for (Map.Entry<CharSequence, CharSequence> e : h) {
            pairs.add(e.getKey() + ": " + e.getValue());
        }
        v.add(pairs);
        v.add(String.valueOf(h.method()) + h.path() + h.status() + h.authority() + h.scheme());
        for (CharSequence n : NAMES) {
            v.add(String.valueOf(h.get(n)));
            v.add(String.valueOf(h.get(n, "default")));
            v.add(h.getAll(n).toString());
            v.add(h.contains(n));
            for (CharSequence val : VALUES) {
                v.add(h.contains(n, val));
                v.add(h.contains(n, val, true));
            }
        }
        return v;
    }

    /** One random change, made to both maps; false when it was one the compact map hands to Netty's. */
    private static boolean change(Random r, Http2Headers a, Http2Headers b) {
        CharSequence n = NAMES[r.nextInt(NAMES.length)];
        CharSequence val = VALUES[r.nextInt(VALUES.length)];
        int op = r.nextInt(41);
        if (op == 40) { // one that is Netty's to answer: the map becomes Netty's from here on
            assertThat(a.getAllAndRemove(n)).isEqualTo(b.getAllAndRemove(n));
            return false;
        }
        switch (op % 8) {
            case 0, 1, 2 -> {
                a.add(n, val);
                b.add(n, val);
            }
            case 3 -> {
                a.set(n, val);
                b.set(n, val);
            }
            case 4 -> {
                // often a number a value already reads as ("42", "200"; not "042"), which the map keeps without a new String
                long l = r.nextBoolean() ? (r.nextBoolean() ? 42 : 200) : r.nextInt(1000);
                a.setLong(n, l);
                b.setLong(n, l);
            }
            case 5 -> assertThat(a.remove(n)).isEqualTo(b.remove(n));
            case 6 -> {
                a.path(val);
                b.path(val);
                a.status(val);
                b.status(val);
            }
            default -> { // iterators are read-only, as Netty's
                Iterator<Map.Entry<CharSequence, CharSequence>> ia = a.iterator();
                Iterator<Map.Entry<CharSequence, CharSequence>> ib = b.iterator();
                if (ia.hasNext()) {
                    assertThat(ia.next().getKey().toString()).isEqualTo(ib.next().getKey().toString());
                    assertThatThrownBy(ia::remove).isInstanceOf(UnsupportedOperationException.class);
                    assertThatThrownBy(ib::remove).isInstanceOf(UnsupportedOperationException.class);
                }
            }
        }
        return true;
    }

    @Test
    void answersAsNettysMapThroughRandomChanges() {
        Random r = new Random(20261204);
        int stayedCompact = 0;
        for (int round = 0; round < 400; round++) {
            Http2Headers netty = netty();
            Http2Headers compact = new CompactHttp2Headers(r.nextInt(3));
            boolean compactAll = true;
            for (int step = 0; step < 30; step++) {
                compactAll &= change(r, netty, compact);
                assertThat(view(compact)).as("round %d step %d", round, step).isEqualTo(view(netty));
            }
            assertThat(compact).isEqualTo(netty);
            assertThat(netty).isEqualTo(compact);
            assertThat(compact.hashCode()).isEqualTo(netty.hashCode());
            if (compactAll) {
                stayedCompact++;
            }
        }
        assertThat(stayedCompact).as("rounds that never left the array").isGreaterThan(10);
    }

    /** Names and values a peer might send, good and bad: Netty's validating map is the reference. */
    private static final String[][] CHECKED = {
        {"x-a", "1"}, {"x-a", "tab\tinside"}, {"x-a", ""}, {"x-a", "caf\u00e9"}, {"x-a", "1\r\nx-b: 2"}, {"x-a", "nul\0"},
        {"x-a", "del\u007f"}, {"x-a", "bell\u0007"}, {"X-A", "1"}, {"x a", "1"}, {"x:a", "1"}, {"", "1"}, {"x\u00e9", "1"},
        {":path", "/"}, {":path", ""}, {":status", "200"}, {":bogus", "1"}, {":", "1"},
    };

    private static boolean refused(Runnable r) {
        try {
            r.run();
            return false;
        } catch (Exception e) { // Netty throws its Http2Exception unchecked for a bad name
            return true;
        }
    }

    @Test
    void aValidatingMapRefusesWhatNettysValidatingMapRefuses() {
        for (String[] c : CHECKED) {
            for (boolean add : new boolean[] {true, false}) {
                Http2Headers netty = new DefaultHttp2Headers(true, true, 4);
                Http2Headers ours = CompactHttp2Headers.validating(4);
                boolean nettyRefused = refused(() -> {
                    if (add) {
                        netty.add(c[0], c[1]);
                    } else {
                        netty.set(c[0], c[1]);
                    }
                });
                boolean oursRefused = refused(() -> {
                    if (add) {
                        ours.add(c[0], c[1]);
                    } else {
                        ours.set(c[0], c[1]);
                    }
                });
                assertThat(oursRefused).as("%s %s: %s", add ? "add" : "set", c[0], c[1]).isEqualTo(nettyRefused);
                assertThat(view(ours)).isEqualTo(view(netty));
            }
        }
        // A pseudo-header added twice; set twice is a replacement.
        Http2Headers twice = CompactHttp2Headers.validating(2).path("/a").path("/b");
        assertThat(twice.path().toString()).isEqualTo("/b");
        assertThatThrownBy(() -> twice.add(":path", "/c")).hasMessage("Duplicate HTTP/2 pseudo-header ':path' encountered.");
        assertThatThrownBy(() -> new DefaultHttp2Headers().path("/a").add(":path", "/c")).hasMessageContaining("Duplicate");
        // The messages say what is wrong and where.
        assertThatThrownBy(() -> CompactHttp2Headers.validating(1).add("x-a", "1\r\n2"))
                .hasMessage("a header value contains prohibited character 0xd at index 1.");
        assertThatThrownBy(() -> CompactHttp2Headers.validating(1).add("X-A", "1")).hasMessage("invalid header name [X-A]");
        assertThatThrownBy(() -> CompactHttp2Headers.validating(1).add(":bogus", "1"))
                .hasMessage("Invalid HTTP/2 pseudo-header ':bogus' encountered.");
        assertThatThrownBy(() -> CompactHttp2Headers.validating(1).add(":path", "")).hasMessage("HTTP/2 pseudo-header ':path' must not be empty.");
        // An entry's value is checked too, and a map that hands over to Netty's keeps checking.
        Http2Headers viaEntry = CompactHttp2Headers.validating(1).add("x-a", "1");
        assertThatThrownBy(() -> viaEntry.iterator().next().setValue("2\n")).isInstanceOf(IllegalArgumentException.class);
        Http2Headers handedOver = CompactHttp2Headers.validating(1).add("x-a", "1");
        handedOver.addInt("x-n", 1); // an operation left to Netty's map
        assertThat(refused(() -> handedOver.add("x-b", "\n"))).isTrue();
        // The unchecked map, used for what Ward sends, checks nothing.
        assertThat(new CompactHttp2Headers(1).add("X-A", "1\n").get("X-A").toString()).isEqualTo("1\n");
    }

    @Test
    void pseudoHeadersGoFirstHoweverTheyAreAdded() {
        Http2Headers h = new CompactHttp2Headers(1).add("accept", "*/*").add("x-a", "1").path("/p").method("GET");
        List<String> names = new ArrayList<>();
        h.forEach(e -> names.add(e.getKey().toString()));
        assertThat(names).containsExactly(":path", ":method", "accept", "x-a");
        assertThat(h.toString()).isEqualTo("CompactHttp2Headers[:path: /p, :method: GET, accept: */*, x-a: 1]");
    }

    @Test
    void iteratorsNestAndOneThatEndedIsReused() {
        Http2Headers h = new CompactHttp2Headers(2).status("200").add("a", "1").add("b", "2");
        List<String> pairs = new ArrayList<>();
        for (Map.Entry<CharSequence, CharSequence> outer : h) {
            String o = outer.getKey().toString();
            for (Map.Entry<CharSequence, CharSequence> inner : h) {
                pairs.add(o + inner.getKey());
            }
            pairs.add(outer.getKey() + "=" + outer.getValue()); // the outer entry still where it was
        }
        assertThat(pairs).containsExactly(":status:status", ":statusa", ":statusb", ":status=200",
                "a:status", "aa", "ab", "a=1", "b:status", "ba", "bb", "b=2");
        Iterator<Map.Entry<CharSequence, CharSequence>> done = h.iterator();
        while (done.hasNext()) {
            done.next();
        }
        assertThat(h.iterator()).isSameAs(done);
        assertThat(h.iterator()).isNotSameAs(done); // the spare is handed out once until it ends again
    }

    @Test
    void refusesNullsAndAddingItself() {
        Http2Headers h = new CompactHttp2Headers(2);
        assertThatThrownBy(() -> h.add(null, "v")).isInstanceOf(NullPointerException.class).hasMessage("name");
        assertThatThrownBy(() -> h.add("n", (CharSequence) null)).isInstanceOf(NullPointerException.class).hasMessage("value");
        h.add("a", "1");
        assertThatThrownBy(() -> h.add(h)).isInstanceOf(IllegalArgumentException.class);
        h.set(h); // a no-op, as Netty's
        h.setAll(h);
        assertThat(h.get("a").toString()).isEqualTo("1");
        assertThat(h.size()).isEqualTo(1);
    }

    @Test
    void theHpackEncoderWritesWhatNettysMapWouldHaveWritten() throws Exception {
        Http2Headers compact = new CompactHttp2Headers(3).method("GET").path("/x").scheme("https").authority("b.local")
                .add("accept", "*/*").add("traceparent", VALUES[7]).add("x-a", "1").add("x-a", "2");
        Http2Headers netty = netty();
        compact.forEach(e -> netty.add(e.getKey(), e.getValue()));
        ByteBuf a = Unpooled.buffer();
        ByteBuf b = Unpooled.buffer();
        try {
            new DefaultHttp2HeadersEncoder(TraceHeaders.NOT_INDEXED).encodeHeaders(3, compact, a);
            new DefaultHttp2HeadersEncoder(TraceHeaders.NOT_INDEXED).encodeHeaders(3, netty, b);
            assertThat(io.netty.buffer.ByteBufUtil.hexDump(a)).isEqualTo(io.netty.buffer.ByteBufUtil.hexDump(b));
            Http2Headers decoded = new DefaultHttp2HeadersDecoder(true).decodeHeaders(3, a);
            assertThat(decoded).isEqualTo(netty);
        } finally {
            a.release();
            b.release();
        }
    }
}
