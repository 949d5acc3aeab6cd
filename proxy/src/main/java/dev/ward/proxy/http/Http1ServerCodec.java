package dev.ward.proxy.http;

import dev.ward.proxy.config.SidecarConfig;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpExpectationFailedEvent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import java.util.List;

/**
 * The HTTP/1.1 codec of Ward's listeners: Netty's {@code HttpServerCodec}, with two differences.
 * A request header name Ward knows ({@code Host}, {@code User-Agent}, {@code Accept},
 * {@code Content-Type}, {@code traceparent}... see {@link HeadsToHttp2#knownName}) is its lower-case
 * constant instead of a new copy of its bytes (an {@code AsciiString} and its array, about 60 B,
 * per header per request), and the headers go in a {@link CompactHttpHeaders}. Header names are
 * case-insensitive (RFC 9110 5.1); the app sees them in lower case, as from an HTTP/2 hop. A
 * plain request head ({@link PlainHead}) is read here, from the bytes into the map, and Netty's
 * decoder reads every other, with its checks.
 *
 * <p>{@code HttpServerCodec} is final and its decoder private, so the pair is rebuilt here, keeping
 * what its encoder needs from the decoder: the method of each request whose response has not
 * gone (a response to {@code HEAD} has no body whatever its headers say; a 2xx to {@code CONNECT}
 * has no {@code Transfer-Encoding}), and a limit on requests read ahead of their responses (past it
 * the rest is discarded and the connection closes after the next response). A request with both
 * {@code Transfer-Encoding} and {@code Content-Length} is refused by Netty's decoder (RFC 9112
 * 6.1, its default), as before.
 */
public final class Http1ServerCodec extends CombinedChannelDuplexHandler<Http1ServerCodec.Decoder, Http1ServerCodec.Encoder> {

    /** Netty's limit on requests read ahead of their responses. */
    static final int MAX_PIPELINE_DEPTH = 128;

    /** The methods of requests read whose final responses have not been written; one connection's, on its event loop. */
    private final ArrayDeque<HttpMethod> methods = new ArrayDeque<>(4);
    private boolean mustCloseAfterResponse;

    public Http1ServerCodec(SidecarConfig.Limits limits) {
        this(new HttpDecoderConfig().setMaxInitialLineLength(limits.maxInitialLineLength()).setMaxHeaderSize(limits.maxHeaderSize())
                .setMaxChunkSize(8192));
    }

    Http1ServerCodec(HttpDecoderConfig config) {
        this(config, true);
    }

    /** {@code headsReadHere} false: every request is Netty's decoder's (for tests that compare the two). */
    Http1ServerCodec(HttpDecoderConfig config, boolean headsReadHere) {
        init(new Decoder(config.setHeadersFactory(CompactHttpHeaders.decoding()).setTrailersFactory(CompactHttpHeaders.TRAILERS),
                headsReadHere ? Math.min(config.getMaxInitialLineLength(), config.getMaxHeaderSize()) : 0, config.getMaxChunkSize()), new Encoder());
    }

    /** This codec's request decoder (for tests). */
    Decoder decoder() {
        return inboundHandler();
    }

    public final class Decoder extends HttpRequestDecoder {
        private boolean discard;
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

        /** A request with a plain head is read here ({@link PlainHead}); any other by Netty's decoder. */
        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf buffer, List<Object> out) throws Exception {
            if (discard) {
                buffer.skipBytes(buffer.readableBytes());
                return;
            }
            int oldSize = out.size();
            if (plain.inBody()) {
                plain.readBody(buffer, out, maxChunkSize, trailersFactory);
            } else if (plain.mayRead() && plain.scanRequest(buffer)) {
                CompactHttpHeaders headers = (CompactHttpHeaders) headersFactory.newHeaders();
                plain.addHeaders(headers, PlainHead.REQUEST_SPARE);
                plain.read(buffer, new DefaultHttpRequest(HttpVersion.HTTP_1_1, plain.method, plain.target(), headers),
                        out, maxChunkSize, trailersFactory);
            } else {
                super.decode(ctx, buffer, out);
                plain.nettyRead(out, oldSize);
            }
            int size = out.size();
            for (int i = oldSize; i < size; i++) {
                if (out.get(i) instanceof HttpRequest req) {
                    if (methods.size() >= MAX_PIPELINE_DEPTH) {
                        mustCloseAfterResponse = true;
                        discard = true;
                        for (int j = i; j < size; j++) {
                            ReferenceCountUtil.release(out.get(j));
                        }
                        out.subList(i, size).clear();
                        throw new IllegalStateException("maxPipelineDepth exceeded: " + MAX_PIPELINE_DEPTH);
                    }
                    methods.add(req.method());
                }
            }
        }

        @Override
        protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
            super.decodeLast(ctx, in, out);
            plain.endBody();
        }

        /** As Netty's decoder does with the body it reads, so with one read here: an expectation failed, so no body comes. */
        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof HttpExpectationFailedEvent) {
                plain.endBody();
            }
            super.userEventTriggered(ctx, evt);
        }

        @Override
        protected AsciiString splitHeaderName(byte[] sb, int start, int length) {
            return HeadsToHttp2.headerName(sb, start, length);
        }

        /** Asked once per request head, when its headers are read. */
        @Override
        protected boolean isContentAlwaysEmpty(HttpMessage msg) {
            CompactHttpHeaders.headDecoded(msg.headers());
            return super.isContentAlwaysEmpty(msg);
        }
    }

    public final class Encoder extends HttpResponseEncoder {
        private HttpMethod method;

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
            if (mustCloseAfterResponse && msg instanceof LastHttpContent) {
                mustCloseAfterResponse = false;
                promise = promise.unvoid().addListener(ChannelFutureListener.CLOSE);
            }
            super.write(ctx, msg, promise);
        }

        /**
         * The bodies the relay writes, accepted by their exact class first. Netty's check asks
         * {@code instanceof FullHttpMessage}, then {@code HttpMessage}, before {@code LastHttpContent}:
         * a body part implements neither, and a failed {@code instanceof} against an interface scans
         * the class's supertypes (0.7% of an outbound sidecar's event loop, by profile).
         */
        @Override
        public boolean acceptOutboundMessage(Object msg) throws Exception {
            Class<?> c = msg.getClass();
            return c == DefaultLastHttpContent.class || c == DefaultHttpContent.class || super.acceptOutboundMessage(msg);
        }

        @Override
        protected void sanitizeHeadersBeforeEncode(HttpResponse msg, boolean isAlwaysEmpty) {
            if (!isAlwaysEmpty && HttpMethod.CONNECT.equals(method) && msg.status().codeClass() == HttpStatusClass.SUCCESS) {
                msg.headers().remove(HttpHeaderNames.TRANSFER_ENCODING); // RFC 9112 6.1: a tunnel has no framing
                return;
            }
            super.sanitizeHeadersBeforeEncode(msg, isAlwaysEmpty);
        }

        @Override
        protected boolean isContentAlwaysEmpty(HttpResponse msg) {
            if (msg.status().codeClass() == HttpStatusClass.INFORMATIONAL) {
                return super.isContentAlwaysEmpty(msg); // an interim response: the request's final one is still to come
            }
            method = methods.poll();
            return HttpMethod.HEAD.equals(method) || super.isContentAlwaysEmpty(msg);
        }
    }
}
