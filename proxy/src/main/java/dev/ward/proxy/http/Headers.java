package dev.ward.proxy.http;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/** Header rules shared by every hop: RFC 9110 hop-by-hop removal and Ward's own headers. */
public final class Headers {

    /** The caller's SPIFFE id, set by the inbound sidecar for the app; never trusted from outside. */
    public static final AsciiString PEER_IDENTITY = AsciiString.cached("x-ward-peer-identity");
    /** Envoy-compatible form of the same fact: {@code By=<this sidecar>;URI=<caller>}. */
    public static final AsciiString FORWARDED_CLIENT_CERT = AsciiString.cached("x-forwarded-client-cert");
    /** Short reason code on every local reply Ward makes (403, 400, 502, ...). */
    public static final AsciiString REASON = AsciiString.cached("x-ward-reason");

    /**
     * What no message takes to the next hop: the hop-by-hop headers (RFC 9110 7.6.1) and Netty's
     * HTTP/2 conversion headers.
     */
    private static final List<AsciiString> STRIPPED_NAMES = List.of(
            HttpHeaderNames.CONNECTION, AsciiString.cached("keep-alive"), AsciiString.cached("proxy-connection"),
            HttpHeaderNames.TE, HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderNames.UPGRADE,
            HttpHeaderNames.PROXY_AUTHORIZATION, HttpHeaderNames.PROXY_AUTHENTICATE,
            HttpConversionUtil.ExtensionHeaderNames.STREAM_ID.text(),
            HttpConversionUtil.ExtensionHeaderNames.SCHEME.text(),
            HttpConversionUtil.ExtensionHeaderNames.PATH.text(),
            HttpConversionUtil.ExtensionHeaderNames.STREAM_PROMISE_ID.text(),
            HttpConversionUtil.ExtensionHeaderNames.STREAM_DEPENDENCY_ID.text(),
            HttpConversionUtil.ExtensionHeaderNames.STREAM_WEIGHT.text());

    /** {@link #STRIPPED_NAMES}, removed from a {@link CompactHttpHeaders} in one pass over its headers. */
    private static final NameTable STRIPPED = new NameTable(STRIPPED_NAMES);

    private Headers() {}

    /**
     * Prepares a message to be sent on the next hop: removes hop-by-hop headers (and those the
     * {@code Connection} header names) and Netty's HTTP/2 conversion headers, then restores the
     * framing the body needs. {@code hasBody} says whether a body follows this message.
     */
    public static void prepareForNextHop(HttpMessage msg, boolean hasBody) {
        HttpHeaders h = msg.headers();
        if (h.contains(HttpHeaderNames.CONNECTION)) { // most messages have none: no iterator then
            removeConnectionListed(h);
        }
        if (h instanceof CompactHttpHeaders compact) { // every message Ward's codecs make: one pass
            compact.removeAll(STRIPPED);
        } else {
            for (AsciiString name : STRIPPED_NAMES) {
                h.remove(name);
            }
        }
        if (hasBody && !HttpUtil.isContentLengthSet(msg)) {
            HttpUtil.setTransferEncodingChunked(msg, true);
        }
    }

    /** Removes the headers every {@code Connection} header names, all values read before any header goes. */
    private static void removeConnectionListed(HttpHeaders h) {
        String first = null;
        List<String> more = null; // several Connection headers are rare
        for (Iterator<String> it = h.valueStringIterator(HttpHeaderNames.CONNECTION); it.hasNext(); ) {
            String v = it.next();
            if (first == null) {
                first = v;
            } else {
                if (more == null) {
                    more = new ArrayList<>(2);
                }
                more.add(v);
            }
        }
        if (first != null) {
            removeConnectionOptions(h, first);
            if (more != null) {
                for (String v : more) {
                    removeConnectionOptions(h, v);
                }
            }
        }
    }

    private static final AsciiString CLOSE = AsciiString.cached("close");
    private static final AsciiString KEEP_ALIVE = AsciiString.cached("keep-alive");

    /**
     * Removes the headers a {@code Connection} value names (RFC 9110 7.6.1), its comma-separated
     * tokens without surrounding white space. The usual ones ({@code keep-alive}, {@code close})
     * are removed by constant name, with no string cut out per message.
     */
    private static void removeConnectionOptions(HttpHeaders h, String value) {
        int n = value.length();
        for (int i = 0; i < n; ) {
            int comma = value.indexOf(',', i);
            int end = comma < 0 ? n : comma;
            int s = i;
            int e = end;
            while (s < e && value.charAt(s) <= ' ') {
                s++;
            }
            while (e > s && value.charAt(e - 1) <= ' ') {
                e--;
            }
            if (e > s) {
                if (e - s == KEEP_ALIVE.length() && value.regionMatches(true, s, "keep-alive", 0, e - s)) {
                    h.remove(KEEP_ALIVE);
                } else if (e - s == CLOSE.length() && value.regionMatches(true, s, "close", 0, e - s)) {
                    h.remove(CLOSE);
                } else {
                    h.remove(value.substring(s, e));
                }
            }
            i = end + 1;
        }
    }

    /**
     * Whether a body follows {@code msg}, judged before {@link #prepareForNextHop} strips framing.
     * {@code fromHttp2} says it was converted from an HTTP/2 HEADERS frame, where a message that
     * is not a full one always has DATA frames to come.
     */
    public static boolean hasBody(HttpMessage msg, boolean fromHttp2) {
        if (msg instanceof io.netty.handler.codec.http.FullHttpMessage full) {
            return full.content().isReadable();
        }
        if (HttpUtil.isContentLengthSet(msg)) {
            return HttpUtil.getContentLength(msg, 0L) > 0;
        }
        return fromHttp2 || HttpUtil.isTransferEncodingChunked(msg);
    }

    /** {@code Orders.shop:8080} → {@code orders.shop}; {@code [::1]:80} → {@code ::1}. */
    public static String hostKey(String host) {
        String h = host.trim();
        if (h.startsWith("[")) {
            int end = h.indexOf(']');
            h = end > 0 ? h.substring(1, end) : h;
        } else {
            int colon = h.indexOf(':');
            if (colon >= 0) {
                h = h.substring(0, colon);
            }
        }
        if (h.endsWith(".")) {
            h = h.substring(0, h.length() - 1);
        }
        return h.toLowerCase(java.util.Locale.ROOT);
    }
}
