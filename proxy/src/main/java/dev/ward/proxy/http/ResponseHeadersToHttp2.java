package dev.ward.proxy.http;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.FullHttpMessage;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.util.AsciiString;
import java.util.Iterator;
import java.util.Map;

/**
 * The head of a response going back over an HTTP/2 stream, as a HEADERS frame: what Netty's
 * {@code Http2StreamFrameToHttpObjectCodec} would send (it still does the body, the trailers,
 * 1xx heads and whole responses with a body), without its per-response garbage. Netty copies
 * every header name to lower-case it and builds a map of the {@code Connection} header's
 * tokens; the app's common header names (as {@code Content-Type}) are looked up here in a
 * table of lower-case constants instead. An inbound sidecar allocated about 450 B per response
 * for those copies.
 *
 * <p>Dropped as Netty drops them: the connection-specific headers HTTP/2 forbids and Netty's
 * extension headers. A response that still names headers in {@code Connection} (the proxy strips
 * them before, see {@link Headers#prepareForNextHop}) goes through Netty's conversion.
 */
@ChannelHandler.Sharable
public final class ResponseHeadersToHttp2 extends ChannelOutboundHandlerAdapter {

    public static final ResponseHeadersToHttp2 INSTANCE = new ResponseHeadersToHttp2();

    /** Names an HTTP/2 response must not carry (RFC 9113 8.2.2; TE is for requests only), and Netty's extension headers. */
    private static final NameTable DROPPED = new NameTable();
    /** Response header names apps commonly send, lower case. */
    private static final NameTable KNOWN = new NameTable();

    static {
        for (AsciiString n : new AsciiString[] {HttpHeaderNames.CONNECTION, HttpHeaderNames.KEEP_ALIVE,
                HttpHeaderNames.PROXY_CONNECTION, HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderNames.HOST,
                HttpHeaderNames.UPGRADE, HttpHeaderNames.TE}) {
            DROPPED.add(n);
        }
        for (HttpConversionUtil.ExtensionHeaderNames n : HttpConversionUtil.ExtensionHeaderNames.values()) {
            DROPPED.add(n.text());
        }
        for (AsciiString n : new AsciiString[] {HttpHeaderNames.CONTENT_TYPE, HttpHeaderNames.CONTENT_LENGTH,
                HttpHeaderNames.DATE, HttpHeaderNames.SERVER, HttpHeaderNames.CACHE_CONTROL, HttpHeaderNames.ETAG,
                HttpHeaderNames.LAST_MODIFIED, HttpHeaderNames.EXPIRES, HttpHeaderNames.VARY, HttpHeaderNames.SET_COOKIE,
                HttpHeaderNames.LOCATION, HttpHeaderNames.CONTENT_ENCODING, HttpHeaderNames.CONTENT_LANGUAGE,
                HttpHeaderNames.CONTENT_DISPOSITION, HttpHeaderNames.ACCEPT_RANGES, HttpHeaderNames.AGE,
                HttpHeaderNames.PRAGMA, HttpHeaderNames.RETRY_AFTER, HttpHeaderNames.WWW_AUTHENTICATE,
                HttpHeaderNames.ACCESS_CONTROL_ALLOW_ORIGIN, HttpHeaderNames.ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HttpHeaderNames.ACCESS_CONTROL_EXPOSE_HEADERS, AsciiString.cached("strict-transport-security"),
                AsciiString.cached("x-content-type-options"), HttpHeaderNames.X_FRAME_OPTIONS, HttpHeaderNames.CONTENT_RANGE,
                HttpHeaderNames.ALLOW, AsciiString.cached("link")}) {
            KNOWN.add(n);
        }
    }

    private ResponseHeadersToHttp2() {
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof HttpResponse res && !(msg instanceof FullHttpMessage)
                && res.status().codeClass() != HttpStatusClass.INFORMATIONAL
                && !res.headers().contains(HttpHeaderNames.CONNECTION)) {
            ctx.write(new DefaultHttp2HeadersFrame(toHttp2(res), false), promise);
            return;
        }
        ctx.write(msg, promise);
    }

    /** The response's status and headers as HTTP/2 headers (names lower case, connection-specific ones dropped). */
    static Http2Headers toHttp2(HttpResponse res) {
        HttpHeaders in = res.headers();
        Http2Headers out = new DefaultHttp2Headers(true, in.size());
        out.status(res.status().codeAsText());
        for (Iterator<Map.Entry<CharSequence, CharSequence>> it = in.iteratorCharSequence(); it.hasNext(); ) {
            Map.Entry<CharSequence, CharSequence> e = it.next();
            CharSequence name = e.getKey();
            if (DROPPED.find(name) != null) {
                continue;
            }
            AsciiString lower = KNOWN.find(name);
            out.add(lower != null ? lower : AsciiString.of(name).toLowerCase(), e.getValue());
        }
        return out;
    }

    /** A few lower-case names, looked up without regard to case and without allocating. */
    private static final class NameTable {
        private final AsciiString[] slots = new AsciiString[128];

        void add(AsciiString lowerCase) {
            int i = AsciiString.hashCode(lowerCase) & (slots.length - 1);
            while (slots[i] != null) {
                i = (i + 1) & (slots.length - 1);
            }
            slots[i] = lowerCase;
        }

        AsciiString find(CharSequence name) {
            for (int i = AsciiString.hashCode(name) & (slots.length - 1); slots[i] != null; i = (i + 1) & (slots.length - 1)) {
                if (AsciiString.contentEqualsIgnoreCase(slots[i], name)) {
                    return slots[i];
                }
            }
            return null;
        }
    }
}
