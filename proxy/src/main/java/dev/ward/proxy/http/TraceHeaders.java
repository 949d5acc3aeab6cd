package dev.ward.proxy.http;

import io.netty.handler.codec.http.HttpHeaders;
import dev.ward.telemetry.tracing.TraceParent;
import io.netty.util.AsciiString;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapSetter;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/** Reads and writes trace context headers ({@code traceparent}, {@code b3}, ...) on Netty's HTTP headers. */
public final class TraceHeaders {

    private TraceHeaders() {
    }

    public static final TextMapGetter<HttpHeaders> GETTER = new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(HttpHeaders carrier) {
            List<String> names = new ArrayList<>(carrier.size());
            carrier.forEach(e -> names.add(e.getKey()));
            return names;
        }

        @Override
        public String get(HttpHeaders carrier, String key) {
            return carrier == null ? null : carrier.get(key);
        }
    };

    /**
     * The trace header names, also {@link HeadsToHttp2}'s known names: what its conversion to
     * HTTP/2 hands the HPACK encoder, so that {@link #kind} knows Ward's {@code traceparent} by identity.
     */
    static final AsciiString TRACEPARENT = AsciiString.cached(TraceParent.HEADER);
    static final AsciiString TRACESTATE = AsciiString.cached("tracestate");
    static final AsciiString B3 = AsciiString.cached("b3");
    private static final AsciiString AUTHORIZATION = AsciiString.cached("authorization");
    private static final AsciiString PROXY_AUTHORIZATION = AsciiString.cached("proxy-authorization");
    private static final AsciiString COOKIE = AsciiString.cached("cookie");
    /** Indexed as HPACK sees fit. */
    static final int INDEXED = 0;
    static final int TRACEPARENT_HEADER = 1;
    /** Another trace header, or a credential: never indexed. */
    static final int NEVER_INDEXED = 2;
    /** Never indexed when short (under 20 bytes, as nghttp2 decides): a short cookie is guessable. */
    static final int COOKIE_HEADER = 3;

    /**
     * HPACK, between sidecars: trace headers are new on every request, so adding them to the
     * dynamic table would only evict the entries that do repeat (and cost both ends a table insert
     * per request); credentials ({@code authorization}, {@code proxy-authorization}, a short
     * {@code cookie}) must not sit in a compression context that other requests' headers share
     * (RFC 7541, 7.1.3: the table is the target of CRIME-style guessing), as nghttp2 treats them.
     * Both go as literals that are never indexed.
     */
    public static final io.netty.handler.codec.http2.Http2HeadersEncoder.SensitivityDetector NOT_INDEXED =
            (name, value) -> neverIndexed(kind(name), value);

    private static boolean neverIndexed(int kind, CharSequence value) {
        return kind == TRACEPARENT_HEADER || kind == NEVER_INDEXED || kind == COOKIE_HEADER && value.length() < 20;
    }

    /**
     * What {@code name} is to HPACK, in any case: {@code traceparent}, another trace header
     * ({@code tracestate}, {@code b3}, {@code x-b3-*}) or a credential, a {@code cookie}, or
     * anything else. The encoder asks for every header of every request, so the length decides
     * first and most names are settled by it alone; Ward's own {@code traceparent} name is
     * recognised by identity.
     */
    static int kind(CharSequence name) {
        if (name == TRACEPARENT) {
            return TRACEPARENT_HEADER;
        }
        int n = name.length();
        if (n >= 5 && (name.charAt(0) | 0x20) == 'x') {
            return AsciiString.regionMatches(name, true, 0, "x-b3-", 0, 5) ? NEVER_INDEXED : INDEXED;
        }
        return switch (n) {
            case 11 -> AsciiString.contentEqualsIgnoreCase(name, TRACEPARENT) ? TRACEPARENT_HEADER : INDEXED;
            case 10 -> AsciiString.contentEqualsIgnoreCase(name, TRACESTATE) ? NEVER_INDEXED : INDEXED;
            case 2 -> AsciiString.contentEqualsIgnoreCase(name, B3) ? NEVER_INDEXED : INDEXED;
            case 13 -> AsciiString.contentEqualsIgnoreCase(name, AUTHORIZATION) ? NEVER_INDEXED : INDEXED;
            case 19 -> AsciiString.contentEqualsIgnoreCase(name, PROXY_AUTHORIZATION) ? NEVER_INDEXED : INDEXED;
            case 6 -> AsciiString.contentEqualsIgnoreCase(name, COOKIE) ? COOKIE_HEADER : INDEXED;
            default -> INDEXED;
        };
    }

    /**
     * {@link #NOT_INDEXED} for one connection's encoder, except that its first {@code traceparent},
     * and every 1,024th after it, goes into the dynamic table. While one is there, Netty's encoder
     * sends every other {@code traceparent} (still never indexed) with that entry's index for its
     * name instead of its 11 bytes, and the peer's decoder takes the name from its table instead
     * of making one (about 64 B per request). The 1,024th brings the name back if other entries
     * pushed it out; at that rate the inserts evict next to nothing. On the connection's event loop.
     */
    public static io.netty.handler.codec.http2.Http2HeadersEncoder.SensitivityDetector notIndexed() {
        return new io.netty.handler.codec.http2.Http2HeadersEncoder.SensitivityDetector() {
            private int traceparents;

            @Override
            public boolean isSensitive(CharSequence name, CharSequence value) {
                int kind = kind(name);
                if (kind == TRACEPARENT_HEADER) {
                    return (traceparents++ & 1023) != 0;
                }
                return neverIndexed(kind, value);
            }
        };
    }

    /**
     * Replaces any value the caller sent: the next hop must see this hop's context. An unsampled
     * request's {@code traceparent} comes as bytes and goes in as an {@link AsciiString} over them,
     * which both HTTP encoders copy in one piece; into Ward's own header map, where the caller's
     * stood and without the map's checks (the bytes are {@link TraceParent#formatBytes}'s).
     */
    public static final TextMapSetter<HttpHeaders> SETTER = new TraceParent.BytesSetter<>() {
        @Override
        public void set(HttpHeaders carrier, String key, String value) {
            if (carrier != null) {
                carrier.set(key, value);
            }
        }

        @Override
        public void setLatin1(HttpHeaders carrier, String key, byte[] value) {
            if (carrier instanceof CompactHttpHeaders compact && TraceParent.HEADER.equals(key)) {
                // Every request a sidecar relays with tracing on: a value formatted from hex digits, not checked again.
                compact.replaceValidated(TRACEPARENT, new AsciiString(value, false));
            } else if (carrier != null) {
                carrier.set(TraceParent.HEADER.equals(key) ? TRACEPARENT : key, new AsciiString(value, false));
            }
        }
    };

    /**
     * The caller's {@code traceparent} as the headers hold it (an {@link AsciiString} from either
     * decoder), or null: the value {@link #GETTER} would return, without its {@code String} copy.
     */
    public static CharSequence traceparent(HttpHeaders headers) {
        if (headers instanceof CompactHttpHeaders compact) { // the decoders' and the HTTP/2 conversion's: no iterator
            return compact.value(TRACEPARENT);
        }
        Iterator<? extends CharSequence> values = headers.valueCharSequenceIterator(TRACEPARENT);
        if (!values.hasNext()) {
            return null;
        }
        CharSequence first = values.next();
        // Several: which one get() answers is the headers' business, so ask it (rare).
        return values.hasNext() ? headers.get(TRACEPARENT) : first;
    }
}
