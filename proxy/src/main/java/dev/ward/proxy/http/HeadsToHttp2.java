package dev.ward.proxy.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.FullHttpMessage;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpScheme;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2StreamFrame;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.AsciiString;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.internal.PlatformDependent;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Netty's {@code Http2StreamFrameToHttpObjectCodec} (HTTP/2 frames to HTTP objects and back on a
 * stream), except for the head of a message going out: a response on an inbound stream, a request
 * on a stream to the next hop. That becomes a HEADERS frame here, as Netty would make it, without
 * its per-message garbage. Netty copies every header name to lower-case it, builds a map of the
 * {@code Connection} header's tokens, and for a request adds a scheme header to the message and
 * parses an empty URI. Here the common header names come from a table of lower-case constants and
 * the scheme is read once per connection. An inbound sidecar allocated about 450 B per response
 * for those copies. The head of a message coming in (a request on an inbound stream, a response
 * on a stream to the next hop) is converted here too ({@link #toHttp1Request},
 * {@link #toHttp1Response}). Netty still converts the bodies, the trailers, 1xx heads, messages
 * with a body in one piece and the unusual cases below.
 *
 * <p>Dropped as Netty drops them: the connection-specific headers HTTP/2 forbids and Netty's
 * extension headers. Left to Netty: a message that still names headers in {@code Connection}
 * (the proxy strips those before, see {@link Headers#prepareForNextHop}); a request with
 * {@code TE} or {@code Cookie} (which HTTP/2 treats specially), or that is not in origin form
 * ({@code CONNECT}, absolute URIs), or whose {@code Host} has user info.
 */
@ChannelHandler.Sharable
public final class HeadsToHttp2 extends Http2StreamFrameToHttpObjectCodec {

    /** For the streams a sidecar accepts (responses go out) and the ones it opens (requests go out): stateless, one each. */
    public static final HeadsToHttp2 SERVER = new HeadsToHttp2(true);
    public static final HeadsToHttp2 CLIENT = new HeadsToHttp2(false);

    /** The scheme of a connection's streams ({@code https} over TLS), found once per connection. */
    private static final AttributeKey<AsciiString> SCHEME = AttributeKey.valueOf("ward.h2Scheme");

    /** Names an HTTP/2 message must not carry (RFC 9113 8.2.2; TE only in a request, which goes to Netty), and Netty's extension headers. */
    private static final NameTable DROPPED = new NameTable();
    /** Header names apps commonly send in responses and callers in requests, lower case. */
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
                HttpHeaderNames.ALLOW, AsciiString.cached("link"),
                // and request header names callers commonly send
                HttpHeaderNames.ACCEPT, HttpHeaderNames.ACCEPT_ENCODING, HttpHeaderNames.ACCEPT_LANGUAGE,
                HttpHeaderNames.USER_AGENT, HttpHeaderNames.AUTHORIZATION, HttpHeaderNames.IF_NONE_MATCH,
                HttpHeaderNames.IF_MODIFIED_SINCE, HttpHeaderNames.ORIGIN, HttpHeaderNames.REFERER,
                HttpHeaderNames.X_REQUESTED_WITH, AsciiString.cached("x-request-id"), AsciiString.cached("x-forwarded-for"),
                AsciiString.cached("x-forwarded-proto"), TraceHeaders.TRACEPARENT, TraceHeaders.TRACESTATE,
                TraceHeaders.B3, AsciiString.cached("x-ward-peer-identity"), AsciiString.cached("x-forwarded-client-cert")}) {
            KNOWN.add(n);
        }
    }

    private HeadsToHttp2(boolean server) {
        super(server);
        this.server = server;
    }

    /** Requests come in (an inbound stream), or responses (a stream this sidecar opened). */
    private final boolean server;

    /** Sharable (the annotation), said without Netty's per-class lookup: added to every stream (see {@link ProxyHandler#isSharable}). */
    @Override
    public boolean isSharable() {
        return true;
    }

    /**
     * As a handler (in a pipeline of frames, as Netty's codec): a frame read becomes what
     * {@link #decodeHeaders} and {@link #decodeData} make of it. Ward's listeners and pools convert
     * through {@link Http2Streams}, which calls those directly; this is for the tests, which check
     * the same conversion against Netty's.
     */
    @Override
    protected void decode(ChannelHandlerContext ctx, Http2StreamFrame frame, List<Object> out) throws Exception {
        if (frame instanceof Http2DataFrame data) {
            out.add(decodeData(data.content(), data.isEndStream()));
        } else if (frame instanceof Http2HeadersFrame hf) {
            out.add(decodeHeaders(ctx, hf.stream(), hf.headers(), hf.isEndStream()));
        } else {
            super.decode(ctx, frame, out);
        }
    }

    /**
     * A request's HEADERS frame as Netty's codec would convert it, less the extension headers it
     * adds ({@code x-http2-scheme}, {@code x-http2-stream-id}, which the proxy strips before the
     * next hop anyway) and less its garbage: no translation-table lookups, no stream id printed
     * as a string, no removals afterwards, and a whole request (END_STREAM) gets the shared empty
     * buffer rather than one from the pool. Names and values are taken as Netty's decoder checked
     * them (see {@link #toHttp1Headers}: a CR or LF never reaches the app's HTTP/1.1 connection);
     * the path is checked by the request object, as in Netty's conversion. Null, for Netty's
     * codec to convert, when the frame is not a plain request head: a missing {@code :method} or
     * {@code :path}, {@code CONNECT}, or a pseudo-header other than the four a request has.
     */
    static HttpRequest toHttp1Request(Http2Headers in, boolean endStream) {
        CharSequence method = in.method();
        CharSequence path = in.path();
        if (method == null || path == null || AsciiString.contentEquals(method, HttpMethod.CONNECT.asciiName())) {
            return null;
        }
        CompactHttpHeaders out = toHttp1Headers(in, true);
        if (out == null) {
            return null;
        }
        HttpMethod m = method(method);
        if (endStream) {
            return new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, m, path.toString(), Unpooled.EMPTY_BUFFER, out,
                    EmptyHttpHeaders.INSTANCE);
        }
        if (!out.contains(HttpHeaderNames.CONTENT_LENGTH)) {
            out.add(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED); // as Netty: a body of unknown length
        }
        return new DefaultHttpRequest(HttpVersion.HTTP_1_1, m, path.toString(), out);
    }

    /**
     * A response's HEADERS frame, as {@link #toHttp1Request} for requests. Null for Netty's codec
     * when the status is missing, not three digits, 1xx (interim responses, which Netty makes
     * whole), or when another pseudo-header is present.
     */
    static HttpResponse toHttp1Response(Http2Headers in, boolean endStream) {
        CharSequence status = in.status();
        if (status == null || status.length() != 3) {
            return null;
        }
        int code = 0;
        for (int i = 0; i < 3; i++) {
            char c = status.charAt(i);
            if (c < '0' || c > '9') {
                return null;
            }
            code = code * 10 + (c - '0');
        }
        if (code < 200) {
            return null;
        }
        CompactHttpHeaders out = toHttp1Headers(in, false);
        if (out == null) {
            return null;
        }
        HttpResponseStatus st = HttpResponseStatus.valueOf(code);
        if (endStream) {
            return new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, st, Unpooled.EMPTY_BUFFER, out, EmptyHttpHeaders.INSTANCE);
        }
        if (code != 204 && code != 304 && !out.contains(HttpHeaderNames.CONTENT_LENGTH)) {
            out.add(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        }
        return new DefaultHttpResponse(HttpVersion.HTTP_1_1, st, out);
    }

    private static final HttpMethod[] COMMON_METHODS = {HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT, HttpMethod.DELETE,
            HttpMethod.HEAD, HttpMethod.PATCH, HttpMethod.OPTIONS};

    /** The method's constant, found without making a {@code String} of the decoded name; Netty's lookup for others. */
    private static HttpMethod method(CharSequence name) {
        for (HttpMethod m : COMMON_METHODS) {
            if (AsciiString.contentEquals(name, m.asciiName())) {
                return m;
            }
        }
        return HttpMethod.valueOf(name.toString());
    }

    private static final AsciiString AUTHORITY = Http2Headers.PseudoHeaderName.AUTHORITY.value();
    private static final AsciiString TRAILER = AsciiString.cached("trailer");

    /**
     * The regular headers of {@code headers}, in order, as Netty's translation copies them: cookies
     * joined into one header with {@code "; "}, {@code :authority} (requests) as {@code Host} (and
     * a {@code host} header beside it dropped, so that the app sees one), and without
     * {@code Transfer-Encoding}, {@code Trailer} and {@code Connection}, which Netty removes after
     * copying. Null for a pseudo-header this conversion does not expect, with {@code headers}
     * untouched; otherwise {@code headers} is taken (left empty when it is Ward's map).
     *
     * <p>A head Ward's decoder made ({@link CompactHttp2Headers}, as every head read from the wire
     * is) is converted on its own array, which the HTTP/1.1 map takes: the conversion only drops
     * headers, and turns {@code :authority} into {@code Host} and several cookies into one, so each
     * header moves to a place at or before its own. That map is left empty. Its room is what the
     * decoder gave it (see {@link HttpPipelines#h2Codec}): the four pseudo-headers of a request
     * leave room for three (the authority becomes Host), the decoder's one more makes four, as an
     * inbound sidecar adds under a token policy (the caller's two identity headers and two claims);
     * a response's status leaves room for a {@code Transfer-Encoding}. Any other map is copied,
     * with the same room.
     *
     * <p>{@code headers} comes from Netty's HTTP/2 decoder, which Ward's codecs build with
     * validation on ({@link HttpPipelines#h2Codec}): it has refused any frame with a name that is
     * not a lower-case token or a value with a CR, LF, NUL or other control (a stream error, before
     * the frame reaches a stream), with the same checks {@link CompactHttpHeaders#add} makes. So
     * they are taken without being checked a second time ({@code HttpPipelinesTest} sends such a
     * frame over the wire, to both sides' codecs, to hold Netty to it).
     */
    private static CompactHttpHeaders toHttp1Headers(Http2Headers headers, boolean request) {
        CompactHttp2Headers in = CompactHttp2Headers.compactOf(headers); // read by index: no iterator per head
        int n = in.size();
        int pseudo = in.pseudoHeaders();
        for (int i = 0; i < pseudo; i++) {
            CharSequence name = in.nameAt(i);
            if (request ? !AsciiString.contentEquals(name, AUTHORITY) && (!Http2Headers.PseudoHeaderName.isPseudoHeader(name)
                    || !Http2Headers.PseudoHeaderName.getPseudoHeader(name).isRequestOnly())
                    : !AsciiString.contentEquals(name, Http2Headers.PseudoHeaderName.STATUS.value())) {
                return null; // a request's other than :method, :path, :scheme, :authority; a response's other than :status
            }
        }
        // The decoder's map is taken; a copy compactOf made is ours too, but has no room.
        CharSequence[] from = in.handOverSlots();
        CharSequence[] to = in == headers ? from : new CharSequence[(n + 1) << 1];
        String cookie = null;
        boolean authority = false;
        int w = 0;
        for (int r = 0; r < n; r++) { // w <= r throughout: on one array, nothing is overwritten before it is read
            CharSequence name = from[r << 1];
            CharSequence value = from[(r << 1) + 1];
            if (r < pseudo) {
                if (request && AsciiString.contentEquals(name, AUTHORITY)) {
                    to[w << 1] = HttpHeaderNames.HOST;
                    to[(w << 1) + 1] = value;
                    w++;
                    authority = true;
                }
                continue;
            }
            if (AsciiString.contentEquals(name, HttpHeaderNames.COOKIE)) {
                cookie = cookie == null ? value.toString() : cookie + "; " + value;
                continue;
            }
            if (AsciiString.contentEquals(name, HttpHeaderNames.TRANSFER_ENCODING) || AsciiString.contentEquals(name, TRAILER)
                    || AsciiString.contentEquals(name, HttpHeaderNames.CONNECTION)
                    || authority && AsciiString.contentEquals(name, HttpHeaderNames.HOST)) {
                // Host besides :authority (pseudo-headers come first): Netty passed both on, and the app
                // got two Host headers; it gets the one Ward itself reads (the first, :authority).
                continue;
            }
            to[w << 1] = name;
            to[(w << 1) + 1] = value;
            w++;
        }
        if (cookie != null) { // valid values joined by "; ", in a place a cookie left
            to[w << 1] = HttpHeaderNames.COOKIE;
            to[(w << 1) + 1] = cookie;
            w++;
        }
        if (to == from) {
            java.util.Arrays.fill(to, w << 1, n << 1, null);
        }
        return new CompactHttpHeaders(to, w);
    }

    /**
     * A header name read as bytes by an HTTP/1.1 decoder: its {@link #knownName} constant, or a copy
     * of the bytes as sent (which is what Netty's decoders make of a name they have no constant for).
     */
    static AsciiString headerName(byte[] bytes, int start, int length) {
        AsciiString known = knownName(bytes, start, length);
        return known != null ? known : new AsciiString(bytes, start, length, true);
    }

    /**
     * The lower-case constant for a header name, given as bytes in any case, if it is one of the
     * names above (common ones, and the hop-by-hop ones HTTP/2 drops); null if not. For the
     * HTTP/1.1 decoders, so that they need not copy them.
     */
    static AsciiString knownName(byte[] bytes, int start, int length) {
        // AsciiString's own (case-insensitive) hash of those bytes, so no object is made to look them up.
        int hash = PlatformDependent.hashCodeAscii(bytes, start, length);
        AsciiString known = KNOWN.find(bytes, start, length, hash);
        return known != null ? known : DROPPED.find(bytes, start, length, hash);
    }

    /**
     * Where {@link #encodeResponse} and {@link #encodeRequest} put the frames a message becomes, in
     * order: {@link Http2Streams}' stream, which writes each to the connection's encoder, or the
     * tests' frame handler ({@link #write}).
     */
    interface FrameSink {
        /** A HEADERS frame of {@code headers}. */
        void headers(Http2Headers headers, boolean endStream);

        /** A DATA frame of {@code data}, which the sink takes (and releases). */
        void data(ByteBuf data, boolean endStream);
    }

    /**
     * A HEADERS frame the peer sent on {@code stream}, as the one HTTP message it is, for {@link Http2Streams}
     * (which serves streams without a channel each): what this codec's read makes of it, without a
     * frame object for the usual request or response head. {@code ctx} is the connection's.
     */
    HttpObject decodeHeaders(ChannelHandlerContext ctx, Http2FrameStream stream, Http2Headers headers, boolean endStream)
            throws Exception {
        HttpMessage m = server ? toHttp1Request(headers, endStream) : toHttp1Response(headers, endStream);
        if (m != null) {
            return m;
        }
        List<Object> out = new java.util.ArrayList<>(1); // Netty's conversion makes one message of a head
        super.decode(ctx, new DefaultHttp2HeadersFrame(headers, endStream).stream(stream), out);
        return (HttpObject) out.get(0);
    }

    /**
     * A DATA frame's bytes as HTTP content (retained: the caller keeps its reference), as Netty's
     * codec makes them, except that the one that ends the stream ends the message, and no trailers
     * can follow it, so its {@code LastHttpContent} gets the shared empty trailers instead of a
     * header map of its own (Netty makes one, with a 16-slot table: about 200 B per message with a
     * body).
     */
    static HttpContent decodeData(ByteBuf data, boolean endStream) {
        return endStream ? new DefaultLastHttpContent(data.retain(), EmptyHttpHeaders.INSTANCE)
                : new DefaultHttpContent(data.retain());
    }

    /**
     * A response's message on an inbound stream as frames, for {@link Http2Streams}: what this
     * codec's write makes of it. Takes {@code msg}: its body goes on in the DATA frame, anything
     * else is released here. On an exception nothing has gone to {@code out}.
     */
    void encodeResponse(ChannelHandlerContext ctx, HttpObject msg, FrameSink out) throws Exception {
        if (msg instanceof HttpResponse res && !(msg instanceof FullHttpMessage)
                && res.status().codeClass() != HttpStatusClass.INFORMATIONAL
                && !res.headers().contains(HttpHeaderNames.CONNECTION)) {
            out.headers(toHttp2(res), false);
            return;
        }
        if (!encodeContent(msg, out)) {
            encodeByNetty(ctx, msg, out);
        }
    }

    /**
     * A body's piece that is not also a head: its buffer as a DATA frame, as Netty's codec makes it
     * (the last piece ends the stream), without a frame object. False, for Netty's codec, for
     * anything else, and for a last piece with trailers.
     */
    private static boolean encodeContent(HttpObject msg, FrameSink out) {
        if (msg instanceof HttpMessage || !(msg instanceof HttpContent c)) {
            return false;
        }
        if (msg instanceof LastHttpContent last) {
            if (!last.trailingHeaders().isEmpty()) {
                return false;
            }
            out.data(c.content(), true); // the message's only reference is its content's: passed on
            return true;
        }
        out.data(c.content(), false);
        return true;
    }

    /** What Netty's conversion makes of {@code msg} (released here), handed to {@code out} once it is all made. */
    private void encodeByNetty(ChannelHandlerContext ctx, HttpObject msg, FrameSink out) throws Exception {
        List<Object> frames = new java.util.ArrayList<>(2);
        try {
            encode(ctx, msg, frames);
        } catch (Exception | Error e) {
            for (Object f : frames) {
                ReferenceCountUtil.release(f);
            }
            throw e;
        } finally {
            ReferenceCountUtil.release(msg);
        }
        for (Object f : frames) {
            if (f instanceof Http2HeadersFrame h) {
                out.headers(h.headers(), h.isEndStream());
            } else {
                Http2DataFrame d = (Http2DataFrame) f;
                out.data(d.content(), d.isEndStream());
            }
        }
    }

    /**
     * For {@link Http2Streams} on a connection this sidecar opened: notes on the connection
     * whether it has TLS, as the codec does when added to a stream channel, for the
     * {@code :scheme} of the requests Netty's conversion encodes.
     */
    void connectionAdded(ChannelHandlerContext ctx) throws Exception {
        super.handlerAdded(ctx);
    }

    /**
     * A request's message on a stream this sidecar opened as frames, for {@link Http2Streams}: what
     * this codec's write makes of it. {@code ctx} is the connection's. Takes {@code msg}, as
     * {@link #encodeResponse} does.
     */
    void encodeRequest(ChannelHandlerContext ctx, HttpObject msg, FrameSink out) throws Exception {
        if (msg instanceof HttpRequest req) {
            Http2Headers headers = toHttp2(req, scheme(ctx));
            if (headers != null) {
                boolean whole = msg instanceof FullHttpMessage;
                if (whole) {
                    ReferenceCountUtil.release(msg); // sent whole: no body, no trailers (toHttp2 checked)
                }
                out.headers(headers, whole);
                return;
            }
        }
        if (!encodeContent(msg, out)) {
            encodeByNetty(ctx, msg, out);
        }
    }

    /**
     * As a handler (in a pipeline of frames, as Netty's codec): an HTTP object written becomes what
     * {@link #encodeResponse} or {@link #encodeRequest} make of it, the last frame with the promise.
     * Ward's listeners and pools convert through {@link Http2Streams}; this is for the tests'
     * HTTP/2 clients, which check the same conversion.
     */
    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        if (!(msg instanceof HttpObject obj)) {
            ctx.write(msg, promise);
            return;
        }
        List<Object> frames = new java.util.ArrayList<>(2);
        FrameSink sink = new FrameSink() {
            @Override
            public void headers(Http2Headers headers, boolean endStream) {
                frames.add(new DefaultHttp2HeadersFrame(headers, endStream));
            }

            @Override
            public void data(ByteBuf data, boolean endStream) {
                frames.add(new DefaultHttp2DataFrame(data, endStream));
            }
        };
        if (server) {
            encodeResponse(ctx, obj, sink);
        } else {
            encodeRequest(ctx, obj, sink);
        }
        if (frames.isEmpty()) {
            promise.setSuccess();
            return;
        }
        for (int i = 0; i < frames.size(); i++) {
            ctx.write(frames.get(i), i == frames.size() - 1 ? promise : ctx.voidPromise());
        }
    }

    /** {@code https} when the connection has TLS, as Netty's codec decides it. */
    private static AsciiString scheme(ChannelHandlerContext ctx) {
        Channel conn = ctx.channel();
        AsciiString s = conn.attr(SCHEME).get();
        if (s == null) {
            s = conn.pipeline().get(SslHandler.class) != null ? HttpScheme.HTTPS.name() : HttpScheme.HTTP.name();
            conn.attr(SCHEME).set(s);
        }
        return s;
    }

    /**
     * A request as HTTP/2 headers (the pseudo-headers, then its headers), or null when it is one
     * this class leaves to Netty: not in origin form, {@code CONNECT}, a body or trailers in a whole
     * message, user info in {@code Host}, or a {@code Connection}, {@code TE} or {@code Cookie}
     * header.
     */
    static Http2Headers toHttp2(HttpRequest req, AsciiString scheme) {
        if (HttpMethod.CONNECT.equals(req.method()) || !req.uri().startsWith("/")
                || req instanceof FullHttpMessage full && (full.content().isReadable() || !full.trailingHeaders().isEmpty())) {
            return null;
        }
        HttpHeaders in = req.headers();
        String host = in.get(HttpHeaderNames.HOST);
        if (host != null && host.indexOf('@') >= 0 || in.contains(HttpHeaderNames.CONNECTION)
                || in.contains(HttpHeaderNames.TE) || in.contains(HttpHeaderNames.COOKIE)) {
            return null;
        }
        Http2Headers out = unvalidated(in.size() + 3); // four pseudo-headers; Host goes as :authority
        // The target and host as the decoder gave them (Strings of 8-bit chars): the HPACK encoder
        // writes any CharSequence's chars as bytes, so no AsciiString copy is made for it (Netty's
        // conversion makes one of each, 120 B a request).
        out.path(req.uri());
        out.scheme(scheme);
        if (host != null) {
            out.authority(host);
        }
        out.method(req.method().asciiName());
        addHeaders(in, out);
        return out;
    }

    /** The response's status and headers as HTTP/2 headers (names lower case, connection-specific ones dropped). */
    static Http2Headers toHttp2(HttpResponse res) {
        HttpHeaders in = res.headers();
        if (in instanceof CompactHttpHeaders c && c.capacity() > c.size()) {
            return inPlace(res.status().codeAsText(), c);
        }
        Http2Headers out = unvalidated(in.size() + 1);
        out.status(res.status().codeAsText());
        addHeaders(in, out);
        return out;
    }

    private static final AsciiString STATUS = Http2Headers.PseudoHeaderName.STATUS.value();

    /**
     * {@link #toHttp2(HttpResponse)} on the response map's own array, which has room for one more
     * header (the app's response as {@link Http1ClientCodec} reads it has: see there): the same
     * headers, names lower case, dropped ones left out, moved one place on for the {@code :status}
     * first. The HTTP/1.1 map is left empty; the response's head is not read again once written.
     */
    private static Http2Headers inPlace(AsciiString status, CompactHttpHeaders in) {
        int n = in.size();
        CharSequence[] s = in.handOverSlots();
        int k = 0;
        for (int i = 0; i < n; i++) { // k <= i: nothing is overwritten before it is read
            CharSequence name = s[i << 1];
            if (DROPPED.find(name) != null) {
                continue;
            }
            AsciiString lower = KNOWN.find(name);
            s[k << 1] = lower != null ? lower : AsciiString.of(name).toLowerCase();
            s[(k << 1) + 1] = s[(i << 1) + 1];
            k++;
        }
        System.arraycopy(s, 0, s, 2, k << 1);
        s[0] = STATUS;
        s[1] = status;
        java.util.Arrays.fill(s, (k + 1) << 1, (n + 1) << 1, null);
        return new CompactHttp2Headers(s, k + 1, 1);
    }

    /**
     * The map for a message going out as HTTP/2, without a second check of each name and value
     * (about 1% of an inbound sidecar's event loop). What fills it was checked already: every
     * HTTP/1.1 header map in Ward validates names (tokens) and values (no CR, LF or NUL) as they are
     * added, which are HTTP/2's rules too once a name is lower case ({@link #addHeaders} lowers
     * it), and the pseudo-header names are constants. The peer's HTTP/2 decoder (another sidecar's
     * included) validates every header again on its side. Not Netty's hash map either: one array,
     * in the order the encoder reads it ({@link CompactHttp2Headers}).
     */
    private static Http2Headers unvalidated(int size) {
        return new CompactHttp2Headers(size);
    }

    private static void addHeaders(HttpHeaders in, Http2Headers out) {
        for (Iterator<Map.Entry<CharSequence, CharSequence>> it = in.iteratorCharSequence(); it.hasNext(); ) {
            Map.Entry<CharSequence, CharSequence> e = it.next();
            CharSequence name = e.getKey();
            if (DROPPED.find(name) != null) {
                continue;
            }
            AsciiString lower = KNOWN.find(name);
            out.add(lower != null ? lower : AsciiString.of(name).toLowerCase(), e.getValue());
        }
    }
}
