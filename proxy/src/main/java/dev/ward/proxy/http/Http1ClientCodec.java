package dev.ward.proxy.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeadersFactory;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestEncoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;
import java.util.ArrayDeque;
import java.util.List;

/**
 * The HTTP/1.1 client codec of Ward's connections to apps and HTTP/1.1 upstreams: Netty's
 * {@code HttpClientCodec} as Ward configures it (no upgrade, no CONNECT parsing, no missing-response
 * check), except that a response header name Ward knows ({@code Content-Type}, {@code Date},
 * {@code Server}... see {@link HeadsToHttp2#knownName}) is its lower-case constant instead of a new
 * copy of its bytes. An app's response carries 5-10 such names, each an {@code AsciiString} and
 * its array (about 60 B) per response, and the lower-case constant is what the HTTP/2 side
 * wants anyway. Header names are case-insensitive (RFC 9110 5.1); an HTTP/1.1 caller sees them in
 * lower case, as from an HTTP/2 hop. Likewise the status line's version, a three-digit code and
 * its standard reason ({@code HTTP/1.1 200 OK}) come as shared strings, and the headers go in a
 * {@link CompactHttpHeaders}. A plain response head ({@link PlainHead}: almost every app's) is
 * read here, from the bytes into the map, and Netty's decoder reads every other.
 *
 * <p>{@code HttpClientCodec} is final, and its response decoder must know the method of the request
 * each response answers (a response to {@code HEAD} has no body), so the pair is rebuilt here:
 * the encoder queues each request's method, the decoder takes one per final (non-1xx) response.
 */
public final class Http1ClientCodec extends CombinedChannelDuplexHandler<Http1ClientCodec.Decoder, Http1ClientCodec.Encoder> {

    /** Methods of the requests sent whose responses have not begun; one connection's, on its event loop. */
    private final ArrayDeque<HttpMethod> methods = new ArrayDeque<>(4);
    /** A {@code CONNECT} was answered 200: what follows is not HTTP and passes as bytes. */
    private boolean tunnel;
    /**
     * The response being decoded has no {@code Transfer-Encoding}: its end is not a chunked
     * coding's last chunk, so no trailers can come with it. Set as each head is read, before its body.
     */
    private boolean noTrailers;

    public Http1ClientCodec(int maxInitialLineLength, int maxHeaderSize, int maxChunkSize) {
        this(maxInitialLineLength, maxHeaderSize, maxChunkSize, true);
    }

    /** {@code headsReadHere} false: every response is Netty's decoder's (for tests that compare the two). */
    Http1ClientCodec(int maxInitialLineLength, int maxHeaderSize, int maxChunkSize, boolean headsReadHere) {
        init(new Decoder(new HttpDecoderConfig().setMaxInitialLineLength(maxInitialLineLength)
                .setMaxHeaderSize(maxHeaderSize).setMaxChunkSize(maxChunkSize)
                .setHeadersFactory(CompactHttpHeaders.decoding()).setTrailersFactory(new Trailers()),
                headsReadHere ? Math.min(maxInitialLineLength, maxHeaderSize) : 0, maxChunkSize), new Encoder());
    }

    /** This codec's response decoder (for tests). */
    Decoder decoder() {
        return inboundHandler();
    }

    /**
     * The trailers of a response's end. Netty's decoder makes a header map (a 16-slot table, about
     * 150 B) for the end of every response with a {@code Content-Length}, although only a chunked
     * response can have trailers; such an end gets the shared empty (read-only) map instead. A
     * chunked response's trailers get a map of their own, validated as Netty's.
     */
    private final class Trailers implements HttpHeadersFactory {
        private final HttpHeadersFactory compact = CompactHttpHeaders.TRAILERS;

        @Override
        public HttpHeaders newHeaders() {
            return noTrailers ? EmptyHttpHeaders.INSTANCE : compact.newHeaders();
        }

        @Override
        public HttpHeaders newEmptyHeaders() {
            return noTrailers ? EmptyHttpHeaders.INSTANCE : compact.newEmptyHeaders();
        }
    }

    public final class Encoder extends HttpRequestEncoder {
        @Override
        protected void encode(ChannelHandlerContext ctx, Object msg, List<Object> out) throws Exception {
            if (msg instanceof HttpRequest req && !tunnel) {
                methods.offer(req.method());
            }
            super.encode(ctx, msg, out);
        }
    }

    /** String literals are interned: these are the strings {@code HttpVersion.valueOf} recognises by identity. */
    private static final String HTTP_1_1 = "HTTP/1.1";
    private static final String HTTP_1_0 = "HTTP/1.0";

    /** "100" to "599", the status codes as strings, so a status line's code is not a new string per response. */
    private static final String[] CODES = new String[500];

    static {
        for (int i = 0; i < CODES.length; i++) {
            CODES[i] = Integer.toString(100 + i);
        }
    }

    public final class Decoder extends HttpResponseDecoder {
        private final PlainHead plain;
        private final int maxChunkSize;

        Decoder(HttpDecoderConfig config, int plainHeadMax, int maxChunkSize) {
            super(config);
            this.plain = new PlainHead(plainHeadMax);
            this.maxChunkSize = maxChunkSize;
        }

        /** Heads read by {@link PlainHead} rather than by Netty's decoder (for tests). */
        long plainHeads() {
            return plain.heads;
        }

        /** A response with a plain head is read here ({@link PlainHead}); any other by Netty's decoder. */
        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf buffer, List<Object> out) throws Exception {
            if (tunnel) {
                int readable = actualReadableBytes();
                if (readable > 0) {
                    out.add(buffer.readRetainedSlice(readable));
                }
                return;
            }
            if (plain.inBody()) {
                plain.readBody(buffer, out, maxChunkSize, trailersFactory);
                return;
            }
            if (plain.mayRead() && readPlainHead(buffer, out)) {
                return;
            }
            int from = out.size();
            super.decode(ctx, buffer, out);
            plain.nettyRead(out, from);
        }

        /** Reads a plain head at the start of {@code buffer}, and what came of its body; false, with nothing read, if there is none. */
        private boolean readPlainHead(ByteBuf buffer, List<Object> out) {
            HttpMethod method = methods.peek();
            if (method == null || HttpMethod.HEAD.equals(method) || HttpMethod.CONNECT.equals(method) || !plain.scanResponse(buffer)) {
                return false;
            }
            CompactHttpHeaders headers = (CompactHttpHeaders) headersFactory.newHeaders();
            plain.addHeaders(headers, PlainHead.RESPONSE_SPARE);
            noTrailers = true;
            methods.poll();
            plain.read(buffer, new DefaultHttpResponse(HttpVersion.HTTP_1_1, plain.status, headers), out, maxChunkSize, trailersFactory);
            return true;
        }

        @Override
        protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
            super.decodeLast(ctx, in, out);
            plain.endBody();
        }

        /** The status code just read from a status line, for {@link #splitThirdWordInitialLine}; -1 if not three digits. */
        private int code = -1;

        /** {@code HTTP/1.1} and {@code HTTP/1.0} as Netty's constants, as its request decoder does for request lines. */
        @Override
        protected String splitFirstWordInitialLine(byte[] sb, int start, int length) {
            if (length == 8 && PlainHead.matches(sb, start, HTTP_1_1)) {
                return HTTP_1_1;
            }
            if (length == 8 && PlainHead.matches(sb, start, HTTP_1_0)) {
                return HTTP_1_0;
            }
            return super.splitFirstWordInitialLine(sb, start, length);
        }

        /** A three-digit status code as a shared string. */
        @Override
        protected String splitSecondWordInitialLine(byte[] sb, int start, int length) {
            code = -1;
            if (length == 3) {
                int c = 0;
                for (int i = start; i < start + 3; i++) {
                    int d = sb[i] - '0';
                    if (d < 0 || d > 9) {
                        return super.splitSecondWordInitialLine(sb, start, length);
                    }
                    c = c * 10 + d;
                }
                if (c >= 100 && c < 600) {
                    code = c;
                    return CODES[c - 100];
                }
            }
            return super.splitSecondWordInitialLine(sb, start, length);
        }

        /** The reason phrase as the status constant's own string when it is the standard one ({@code OK} for 200...). */
        @Override
        protected String splitThirdWordInitialLine(byte[] sb, int start, int length) {
            if (code >= 0) {
                String standard = HttpResponseStatus.valueOf(code).reasonPhrase();
                if (standard.length() == length && PlainHead.matches(sb, start, standard)) {
                    return standard;
                }
            }
            return super.splitThirdWordInitialLine(sb, start, length);
        }

        @Override
        protected AsciiString splitHeaderName(byte[] sb, int start, int length) {
            return HeadsToHttp2.headerName(sb, start, length);
        }

        /** Asked once per response head, before any of its body is decoded: also where {@link #noTrailers} is set. */
        @Override
        protected boolean isContentAlwaysEmpty(HttpMessage msg) {
            CompactHttpHeaders.headDecoded(msg.headers());
            HttpResponse res = (HttpResponse) msg;
            noTrailers = !res.headers().contains(HttpHeaderNames.TRANSFER_ENCODING);
            if (res.status().codeClass() == HttpStatusClass.INFORMATIONAL) {
                return super.isContentAlwaysEmpty(msg); // an interim response: the request's final one is still to come
            }
            HttpMethod method = methods.poll();
            if (HttpMethod.HEAD.equals(method)) {
                return true;
            }
            if (HttpMethod.CONNECT.equals(method) && res.status().code() == 200) {
                tunnel = true;
                methods.clear();
                return true;
            }
            return super.isContentAlwaysEmpty(msg);
        }
    }
}
