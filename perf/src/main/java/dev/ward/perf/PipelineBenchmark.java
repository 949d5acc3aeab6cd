package dev.ward.perf;

import dev.ward.proxy.config.SidecarConfig;
import dev.ward.proxy.http.Backend;
import dev.ward.proxy.http.Http1Upstream;
import dev.ward.proxy.http.Upstream;
import dev.ward.proxy.http.Drain;
import dev.ward.proxy.http.Http1ClientCodec;
import dev.ward.proxy.http.HttpPipelines;
import dev.ward.proxy.http.ProxyHandler;
import dev.ward.proxy.http.Route;
import dev.ward.proxy.http.TraceHeaders;
import dev.ward.telemetry.RequestTelemetry;
import dev.ward.telemetry.metrics.WardMetrics;
import dev.ward.telemetry.tracing.Tracing;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersEncoder;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.WardHttp2FrameWriter;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.FastThreadLocalThread;
import io.netty.util.concurrent.Future;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Ward's HTTP forwarding path without sockets or TLS: a request enters a listener's pipeline (the
 * same {@link HttpPipelines} and {@link ProxyHandler} the sidecar runs), is routed and written to
 * the backend's channel, the backend answers 20 bytes, and the response leaves the listener.
 * Netty's {@link EmbeddedChannel} stands for both sockets. {@code http1}: a keep-alive HTTP/1.1
 * connection (bytes in, bytes out, through the codec). {@code h2conn}: a whole HTTP/2 listener
 * connection, as a sidecar's inbound one less TLS: each request arrives as the bytes of a HEADERS
 * frame (HPACK-encoded by a client encoder that keeps its dynamic table, as the calling sidecar's
 * does) on stream 3, 5, 7..., and Ward's {@code Http2Streams} (Netty's connection handler) serves it as
 * the sidecar does (no channel per stream since 2026-12-05, no frame codec since 2026-12-06; the {@code http2} case, a stream
 * channel's pipeline alone, went with them). Metrics on, logs off. {@code tracing}:
 * {@code off}; {@code unsampled}: tracing on, sampling nothing (the 99% of a 1% ratio), with
 * inbound requests carrying the unsampled {@code traceparent} the caller's sidecar would send;
 * {@code passthrough}: tracing off, the same {@code traceparent} carried on untouched (the
 * header's own cost, which {@code unsampled} includes); {@code sampled1}: tracing on at a 1% ratio
 * (outbound: a root decision per request; inbound requests carry the unsampled caller's header, so
 * only {@code outbound} samples), the spans going to a Zipkin endpoint nobody listens on, whose
 * failures the exporter counts and drops. {@code upstream}: {@code http1}, the app's
 * connection as a sidecar has it (Ward's HTTP/1.1 client codec encodes the request to bytes and
 * decodes the app's response from bytes); {@code objects}, the response handed in as Netty's HTTP
 * objects made by the benchmark, with no codec (how this benchmark measured until 2026-12-03);
 * {@code h2}, the connection to the next sidecar as an outbound sidecar has it, less TLS
 * ({@link HttpPipelines#h2Client}: Ward's client codec and its streams, one opened per request, as
 * {@code ConnectionPool} opens them): the request leaves as the bytes of a HEADERS frame and the
 * response comes back as those of a HEADERS and a DATA frame (HPACK-encoded by a server encoder
 * that keeps its dynamic table, as the next sidecar's does). {@code outbound} with {@code h2} is
 * a calling sidecar's whole forwarding path, from its app's request to the next sidecar and back.
 * Run with {@code -prof gc} for the allocation per request.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
// Netty's defaults as `ward` sets them (WardCli.processDefaults): leak detection off (it samples buffers
// with stack traces), and the pooled allocator for every channel. Until 2026-12-04 the embedded
// channels here took Netty 4.2's default, the adaptive allocator, which a sidecar does not use.
@Fork(value = 1, jvmArgsAppend = {"-Dio.netty.leakDetection.level=disabled", "-Dio.netty.allocator.type=pooled",
        "-Dio.netty.jfr.enabled=false"})
public class PipelineBenchmark {

    @Param({"http1", "h2conn"})
    public String protocol;

    @Param({"inbound", "outbound"})
    public String direction;

    @Param({"off"})
    public String tracingMode;

    /** Headers the caller sends beyond the usual few, each a 55-character value as a {@code traceparent}: what each header costs a hop. */
    @Param({"0"})
    public int extraHeaders;

    @Param({"http1"})
    public String upstreamCodec;

    /**
     * Inbound only. {@code none}: every request forwarded, no policy; {@code allow}: the sidecar's
     * inbound router (path normalization, policy decision, peer headers) under a one-rule policy
     * that allows the caller; {@code token}: the same rule requiring a bearer token, each request carrying the same valid RS256 token (about 600
     * characters), verified once and then found in the cache, its {@code sub} and {@code iss}
     * added for the app.
     */
    @Param({"none"})
    public String policy;

    private static final byte[] BODY = "hello from upstream\n".getBytes(StandardCharsets.US_ASCII);
    private static final String HEAD = "GET /orders/42 HTTP/1.1\r\nhost: orders\r\nuser-agent: bench\r\naccept: */*\r\n";
    /** What the app answers each request with, on the {@code http1} upstream. */
    private static final byte[] RESPONSE = ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + BODY.length
            + "\r\n\r\n" + new String(BODY, StandardCharsets.US_ASCII)).getBytes(StandardCharsets.US_ASCII);
    private static final String TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-02";

    private Tracing tracing;
    private RequestTelemetry telemetry;
    private final SidecarConfig.Limits limits = new SidecarConfig.Limits(null, null, null, null, null, null, null);
    private final Drain drain = new Drain();
    private EmbeddedChannel upstream;
    private EmbeddedChannel downstream;
    private Route.Router router;
    private ByteBuf request;
    private ByteBuf body;
    private ByteBuf response;
    private boolean upstreamBytes;
    private Http2Headers h2Request;
    /** {@code h2conn}: the caller's request header blocks (null otherwise) and its next stream id. */
    private SettlingHeaderBlock h2RequestBlock;
    private int nextStreamId;
    /** {@code upstream=h2}: the connection's streams, and the next sidecar's response header blocks. */
    private dev.ward.proxy.http.Http2Streams upstreamStreams;
    private SettlingHeaderBlock h2ResponseBlock;

    /**
     * One side's HPACK encoder (its dynamic table lives as long as the connection) and the header
     * block it wrote last for the same headers; once two in a row are the same (the dynamic table
     * has settled: every header indexed, or sent as a literal that is never indexed), that block,
     * sent as it is from then on. The peer's encoder would write those very bytes; encoding them
     * again is the peer's work, not the pipeline's, and cost the measurement 48 B per request (two
     * iterators of Netty's header map).
     */
    private static final class SettlingHeaderBlock {
        private final Http2HeadersEncoder encoder;
        private final Http2Headers headers;
        private byte[] last;
        private byte[] settled;

        SettlingHeaderBlock(Http2HeadersEncoder encoder, Http2Headers headers) {
            this.encoder = encoder;
            this.headers = headers;
        }

        /** The bytes of a HEADERS frame with this block, once settled (a guess before): a buffer that size needs no growing. */
        int frameSize() {
            return settled != null ? 9 + settled.length : 256;
        }

        /** Writes the block for {@code streamId} after the 9 bytes of {@code frame}'s header, left for the caller to fill. */
        void writeTo(ByteBuf frame, int streamId) {
            frame.writerIndex(9);
            if (settled != null) {
                frame.writeBytes(settled);
                return;
            }
            try {
                encoder.encodeHeaders(streamId, headers, frame);
            } catch (io.netty.handler.codec.http2.Http2Exception e) {
                frame.release();
                throw new IllegalStateException("could not encode the header block", e);
            }
            byte[] block = ByteBufUtil.getBytes(frame, 9, frame.writerIndex() - 9);
            if (Arrays.equals(block, last)) {
                settled = block;
            }
            last = block;
        }
    }

    @Setup(Level.Trial)
    public void setUp() {
        boolean traced = switch (tracingMode) {
            case "off", "passthrough" -> false;
            case "unsampled", "sampled1" -> true;
            default -> throw new IllegalArgumentException("tracingMode: " + tracingMode + " (expected off, unsampled, sampled1 or passthrough)");
        };
        // Unsampled: spans would go to Zipkin on a port nobody listens on, but none is sampled.
        tracing = Tracing.start(new Tracing.Settings(traced ? "zipkin" : "none", traced ? "http://127.0.0.1:9" : null,
                traced ? ("sampled1".equals(tracingMode) ? 0.01 : 0.0) : null, null, "bench", "bench", "bench"));
        boolean carry = !"off".equals(tracingMode) && "inbound".equals(direction);
        StringBuilder extra = new StringBuilder();
        for (int i = 0; i < extraHeaders; i++) {
            extra.append("x-bench-").append(i).append(": ").append(TRACEPARENT).append("\r\n");
        }
        if (!"none".equals(policy) && !"inbound".equals(direction)) {
            throw new IllegalArgumentException("policy=" + policy + " is an inbound sidecar's (direction=inbound)");
        }
        if ("token".equals(policy)) {
            token = mintToken();
            extra.append("authorization: Bearer ").append(token).append("\r\n");
        }
        byte[] requestBytes = (HEAD + (carry ? "traceparent: " + TRACEPARENT + "\r\n" : "") + extra + "\r\n")
                .getBytes(StandardCharsets.US_ASCII);
        telemetry = new RequestTelemetry("inbound".equals(direction) ? RequestTelemetry.Direction.INBOUND
                : RequestTelemetry.Direction.OUTBOUND, tracing, new WardMetrics("bench"), null, "bench");
        upstreamBytes = switch (upstreamCodec) {
            case "http1", "h2" -> true;
            case "objects" -> false;
            default -> throw new IllegalArgumentException("upstreamCodec: " + upstreamCodec + " (expected http1, objects or h2)");
        };
        Backend backend = "h2".equals(upstreamCodec) ? openUpstreamH2() : upstreamHttp1();
        Route forward = new Route.Forward(backend, "bench");

        router = switch (policy) {
            case "none" -> (ch, req) -> forward;
            case "allow", "token" -> policyRouter(backend);
            default -> throw new IllegalArgumentException("policy: " + policy + " (expected none, allow or token)");
        };
        request = Unpooled.unreleasableBuffer(Unpooled.directBuffer(requestBytes.length).writeBytes(requestBytes));
        body = Unpooled.unreleasableBuffer(Unpooled.directBuffer(BODY.length).writeBytes(BODY));
        response = Unpooled.unreleasableBuffer(Unpooled.directBuffer(RESPONSE.length).writeBytes(RESPONSE));
        h2Request = new DefaultHttp2Headers().method("GET").path("/orders/42").scheme("https").authority("orders")
                .add("user-agent", "bench").add("accept", "*/*");
        if (carry) {
            h2Request.add("traceparent", AsciiString.of(TRACEPARENT)); // as HPACK decodes it
        }
        for (int i = 0; i < extraHeaders; i++) {
            h2Request.add(AsciiString.of("x-bench-" + i), AsciiString.of(TRACEPARENT));
        }
        if (token != null) {
            h2Request.add(HttpHeaderNames.AUTHORIZATION, AsciiString.of("Bearer " + token));
        }
        if ("http1".equals(protocol)) {
            downstream = new EmbeddedChannel();
            HttpPipelines.http1(downstream.pipeline(), limits, () -> new ProxyHandler(router, false, direction, drain, telemetry));
        } else if ("h2conn".equals(protocol)) {
            openH2Connection();
        } else {
            throw new IllegalArgumentException("protocol: " + protocol + " (expected http1 or h2conn)");
        }
        if (!"none".equals(policy)) {
            downstream.attr(dev.ward.proxy.tls.PeerIdentity.KEY).set(CALLER); // what the TLS handshake would have found
        }
    }

    /** {@code policy=allow} and {@code token}: the policy (and the RS256 key's JWKS), in files as an operator writes them. */
    private String token;
    private java.nio.file.Path policyDir;
    private com.nimbusds.jose.jwk.RSAKey tokenKey;
    private dev.ward.proxy.policy.PolicySource policySource;

    private static final dev.ward.authz.identity.SpiffeId CALLER = dev.ward.authz.identity.SpiffeId.parse("spiffe://bench/ns/shop/sa/frontend");

    private String mintToken() {
        try {
            tokenKey = new com.nimbusds.jose.jwk.gen.RSAKeyGenerator(2048).keyID("bench").generate();
            com.nimbusds.jwt.SignedJWT jwt = new com.nimbusds.jwt.SignedJWT(
                    new com.nimbusds.jose.JWSHeader.Builder(com.nimbusds.jose.JWSAlgorithm.RS256).keyID("bench").build(),
                    new com.nimbusds.jwt.JWTClaimsSet.Builder().issuer("https://auth.bench").subject("alice").audience("orders")
                            .jwtID("bench-0123456789abcdef").claim("scope", "orders:read orders:write")
                            .issueTime(new java.util.Date()).expirationTime(new java.util.Date(System.currentTimeMillis() + 86_400_000L))
                            .build());
            jwt.sign(new com.nimbusds.jose.crypto.RSASSASigner(tokenKey));
            return jwt.serialize();
        } catch (com.nimbusds.jose.JOSEException e) {
            throw new IllegalStateException("could not mint the benchmark's token", e);
        }
    }

    private Route.Router policyRouter(Backend app) {
        try {
            policyDir = java.nio.file.Files.createTempDirectory("ward-bench-policy");
            String yaml;
            if (tokenKey != null) {
                java.nio.file.Path jwks = java.nio.file.Files.writeString(policyDir.resolve("jwks.json"),
                        new com.nimbusds.jose.jwk.JWKSet(tokenKey).toPublicJWKSet().toString());
                yaml = """
                        service: orders
                        version: "bench"
                        tokens:
                          - { issuer: https://auth.bench, jwks: { file: %s }, audiences: [orders] }
                        rules:
                          - { name: orders-with-token, from: ["%s"], methods: [GET], paths: [/orders/*], token: required }
                        """.formatted(jwks, CALLER);
            } else {
                yaml = """
                        service: orders
                        version: "bench"
                        rules:
                          - { name: orders, from: ["%s"], methods: [GET], paths: [/orders/*] }
                        """.formatted(CALLER);
            }
            java.nio.file.Path file = java.nio.file.Files.writeString(policyDir.resolve("policy.yaml"), yaml);
            dev.ward.telemetry.AuditLog audit = new dev.ward.telemetry.AuditLog(java.io.OutputStream.nullOutputStream(),
                    java.time.Clock.systemUTC());
            policySource = dev.ward.proxy.policy.PolicySource.fromFile(file, audit);
            policySource.active().tokens().awaitKeys(java.time.Duration.ofSeconds(5));
            return new dev.ward.proxy.inbound.InboundRouter(policySource::active,
                    dev.ward.authz.identity.SpiffeId.parse("spiffe://bench/ns/shop/sa/orders"), app, audit);
        } catch (java.io.IOException | dev.ward.authz.policy.PolicyException e) {
            throw new IllegalStateException("could not set up the benchmark's policy", e);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws java.io.IOException {
        if (policySource != null) {
            policySource.close(); // its token verifier's key sources
        }
        if (policyDir != null) {
            try (java.util.stream.Stream<java.nio.file.Path> files = java.nio.file.Files.list(policyDir)) {
                for (java.nio.file.Path f : files.toList()) {
                    java.nio.file.Files.delete(f);
                }
            }
            java.nio.file.Files.delete(policyDir);
        }
        if (downstream != null) {
            downstream.finishAndReleaseAll();
        }
        upstream.finishAndReleaseAll();
        tracing.close();
        // The shared request and response bytes are wrapped unreleasable for the exchanges; freed here,
        // so that a JVM running Netty's leak detector (the smoke test's) reports nothing.
        for (ByteBuf b : new ByteBuf[] {request, body, response}) {
            b.unwrap().release();
        }
    }

    /**
     * Exchanges per benchmark call: enough to make the thread set-up below negligible, including the
     * pooled allocator's thread cache and the recyclers' pools, which the thread's locals start anew
     * each call (about 100 B per request with 1,000 per call).
     */
    private static final int BATCH = 10_000;

    /**
     * {@link #BATCH} requests and their responses, on a thread that Netty treats as an event loop
     * ({@link FastThreadLocalThread#runWithFastThreadLocal}). On any other thread Netty's
     * {@code Recycler} hands out a new object every time (4.2), so what a sidecar's event loop
     * reuses (the outbound buffer's entries...) would be counted as allocated per request.
     * Returns the bytes (or frames) the clients got.
     */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int exchange() {
        int[] out = {0};
        FastThreadLocalThread.runWithFastThreadLocal(() -> {
            for (int i = 0; i < BATCH; i++) {
                out[0] += once();
            }
            if (h2RequestBlock != null) {
                returnWindow(BATCH);
            }
        });
        return out[0];
    }

    /** The app's connection, as {@code ConnectionPool} sets one up: HTTP/1.1 (or no codec, {@code objects}). */
    private Backend upstreamHttp1() {
        upstream = new EmbeddedChannel();
        if (upstreamBytes) {
            upstream.pipeline().addLast("http", new Http1ClientCodec(8192, 8192, 8192));
        }
        Http1Upstream up = Http1Upstream.addTo(upstream.pipeline()); // as on a pooled connection to the app
        // A pooled connection taken again comes with its own completed future (ConnectionPool.reuse).
        Future<Upstream> acquired = upstream.eventLoop().newSucceededFuture(up);
        return new Backend() {
            @Override
            public String name() {
                return "app";
            }

            @Override
            public Future<Upstream> acquire(EventLoop loop) {
                return acquired;
            }

            @Override
            public void release(Upstream u, boolean reusable) {
            }
        };
    }

    /**
     * {@code upstream=h2}: a connection to the next sidecar as {@code ConnectionPool} sets one up
     * after its handshake (less TLS and its idle timeout), past the preface and SETTINGS both ways;
     * each request gets a new stream, in a completed future, as the pool hands them out.
     */
    private Backend openUpstreamH2() {
        upstream = new EmbeddedChannel();
        upstreamStreams = HttpPipelines.h2Client(upstream.pipeline(), 8192);
        ByteBuf hello = Unpooled.buffer();
        frameHeader(hello, 0, 0x4, 0, 0); // the server's SETTINGS, empty: the defaults
        frameHeader(hello, 0, 0x4, 0x1, 0); // and its ACK of the client's
        upstream.writeInbound(hello);
        upstream.runPendingTasks();
        for (Object m; (m = upstream.readOutbound()) != null; ) {
            ReferenceCountUtil.release(m); // the client's preface, SETTINGS, ACK, WINDOW_UPDATE
        }
        for (Object m; (m = upstream.readInbound()) != null; ) {
            ReferenceCountUtil.release(m);
        }
        if (!upstreamStreams.canOpenStream()) {
            throw new IllegalStateException("the HTTP/2 client connection takes no stream after its preface");
        }
        h2ResponseBlock = new SettlingHeaderBlock(
                WardHttp2FrameWriter.headersEncoder(Http2HeadersEncoder.NEVER_SENSITIVE), // as a listener's codec
                new DefaultHttp2Headers().status("200").add("content-type", "text/plain")
                        .add("content-length", String.valueOf(BODY.length)));
        return new Backend() {
            @Override
            public String name() {
                return "orders";
            }

            @Override
            public Future<Upstream> acquire(EventLoop loop) {
                return loop.newSucceededFuture(upstreamStreams.open(true));
            }

            @Override
            public void release(Upstream u, boolean reusable) {
                if (!reusable && u.isActive()) {
                    u.close();
                }
            }
        };
    }

    /**
     * {@code upstream=h2}: the response to stream {@code streamId} as the bytes of its HEADERS
     * (END_HEADERS) and DATA (END_STREAM) frames, as the socket read would hand them in; the header
     * block encoded until it settles, then sent as it is ({@link SettlingHeaderBlock}).
     */
    private ByteBuf h2ResponseFrames(int streamId) {
        ByteBuf frames = PooledByteBufAllocator.DEFAULT.directBuffer(128);
        h2ResponseBlock.writeTo(frames, streamId);
        frames.setMedium(0, frames.writerIndex() - 9).setByte(3, 0x1).setByte(4, 0x4).setInt(5, streamId);
        frameHeader(frames, BODY.length, 0x0, 0x1, streamId);
        frames.writeBytes(BODY);
        return frames;
    }

    /**
     * {@code bytes} as a socket read hands them to a pipeline: copied into a buffer from the pooled
     * allocator, whose buffer objects an event loop recycles. (Until 2026-12-03 the benchmark passed
     * a retained duplicate of one buffer, two wrapper objects, and {@code writeInbound}'s argument
     * array per read: about 150 B per request that no sidecar allocates.)
     */
    private static ByteBuf read(ByteBuf bytes) {
        return PooledByteBufAllocator.DEFAULT.directBuffer(bytes.readableBytes()).writeBytes(bytes, bytes.readerIndex(), bytes.readableBytes());
    }

    /**
     * {@code h2conn}: a listener's HTTP/2 pipeline ({@link HttpPipelines#http2}) on an embedded
     * channel, past the connection preface and SETTINGS, with the connection's receive window on
     * the caller's side opened wide (the benchmark never reads the responses' DATA as a client
     * would, so it hands the window back in bulk: {@link #returnWindow}).
     */
    private void openH2Connection() {
        downstream = new EmbeddedChannel();
        HttpPipelines.http2(downstream.pipeline(), limits, () -> new ProxyHandler(router, true, direction, drain, telemetry));
        // as a sidecar's client codec; a new connection: a new dynamic table at both ends
        h2RequestBlock = new SettlingHeaderBlock(WardHttp2FrameWriter.headersEncoder(TraceHeaders.notIndexed()), h2Request); // the calling sidecar's
        nextStreamId = 3; // an embedded channel has no server parent: Netty would take stream 1 for an h2c upgrade
        ByteBuf hello = Unpooled.buffer();
        hello.writeBytes(Http2CodecUtil.connectionPrefaceBuf());
        frameHeader(hello, 0, 0x4, 0, 0); // SETTINGS, empty: the defaults
        frameHeader(hello, 4, 0x8, 0, 0); // WINDOW_UPDATE on the connection
        hello.writeInt(Integer.MAX_VALUE - 65_535);
        downstream.writeInbound(hello);
        drainDownstream();
        ByteBuf ack = Unpooled.buffer();
        frameHeader(ack, 0, 0x4, 0x1, 0); // SETTINGS ACK for the server's
        downstream.writeInbound(ack);
        drainDownstream();
        if (!downstream.isActive()) {
            throw new IllegalStateException("the HTTP/2 listener closed the connection during its preface");
        }
    }

    private static void frameHeader(ByteBuf out, int length, int type, int flags, int streamId) {
        out.writeMedium(length).writeByte(type).writeByte(flags).writeInt(streamId);
    }

    /** Drops what the listener wrote back outside a request (SETTINGS, WINDOW_UPDATE, acknowledgements). */
    private void drainDownstream() {
        downstream.runPendingTasks(); // flushes held by the flush consolidation handler
        for (Object m; (m = downstream.readOutbound()) != null; ) {
            ReferenceCountUtil.release(m);
        }
    }

    /** The next request as its HEADERS frame's bytes (END_STREAM, END_HEADERS), as the socket read would hand them in. */
    private ByteBuf h2HeadersFrame() {
        int streamId = nextStreamId;
        nextStreamId += 2;
        ByteBuf frame = PooledByteBufAllocator.DEFAULT.directBuffer(h2RequestBlock.frameSize());
        h2RequestBlock.writeTo(frame, streamId);
        int length = frame.writerIndex() - 9;
        frame.setMedium(0, length).setByte(3, 0x1).setByte(4, 0x1 | 0x4).setInt(5, streamId);
        return frame;
    }

    /** {@code h2conn}: hands the connection-level window the last {@code responses} DATA payloads used back to the server. */
    private void returnWindow(int responses) {
        ByteBuf update = Unpooled.buffer(13);
        frameHeader(update, 4, 0x8, 0, 0);
        update.writeInt(responses * BODY.length);
        downstream.writeInbound(update);
        drainDownstream();
    }

    /** One request and its response; returns the bytes (or frames) the client got. */
    private int once() {
        if (h2RequestBlock != null && nextStreamId > 1 << 30) { // stream ids run out at 2^31: a new connection, as a client would open
            downstream.finishAndReleaseAll();
            openH2Connection();
        }
        EmbeddedChannel down = downstream;
        if (h2RequestBlock != null) {
            down.pipeline().fireChannelRead(h2HeadersFrame());
            down.pipeline().fireChannelReadComplete();
        } else {
            down.pipeline().fireChannelRead(read(request));
            down.flushInbound();
        }
        int requestStream = 0;
        if (upstreamStreams != null) {
            upstream.runPendingTasks(); // the request's flush waits for the loop's turn (flush consolidation)
        }
        boolean forwarded = !upstreamBytes;
        for (Object m; (m = upstream.readOutbound()) != null; ) {
            forwarded = true;
            if (requestStream == 0 && upstreamStreams != null && m instanceof ByteBuf b && b.readableBytes() >= 9
                    && b.getByte(b.readerIndex() + 3) == 0x1) {
                requestStream = b.getInt(b.readerIndex() + 5); // the HEADERS frame's stream
            }
            ReferenceCountUtil.release(m);
        }
        if (!forwarded) {
            throw new IllegalStateException("the request did not reach the upstream (refused by the policy?)");
        }
        if (upstreamStreams != null) {
            if (requestStream == 0) {
                throw new IllegalStateException("no request HEADERS frame left for the next sidecar");
            }
            upstream.pipeline().fireChannelRead(h2ResponseFrames(requestStream));
            upstream.pipeline().fireChannelReadComplete();
            upstream.runPendingTasks(); // the window given back, flushed in the loop's turn
            for (Object m; (m = upstream.readOutbound()) != null; ) {
                ReferenceCountUtil.release(m);
            }
        } else if (upstreamBytes) {
            upstream.pipeline().fireChannelRead(read(response));
            upstream.flushInbound();
        } else {
            DefaultHttpResponse res = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
            res.headers().set(HttpHeaderNames.CONTENT_LENGTH, BODY.length).set(HttpHeaderNames.CONTENT_TYPE, "text/plain");
            upstream.writeInbound(res, new DefaultLastHttpContent(body.duplicate().retain()));
        }
        if (h2RequestBlock != null) {
            down.runPendingTasks(); // the connection's flushes wait for the event loop's turn (flush consolidation)
        }
        int out = 0;
        for (Object m; (m = down.readOutbound()) != null; ) {
            if (m instanceof ByteBuf b) {
                out += b.readableBytes();
            } else if (m instanceof Http2HeadersFrame || m instanceof Http2DataFrame) {
                out++;
            }
            ReferenceCountUtil.release(m);
        }
        if (out == 0) {
            throw new IllegalStateException("no response left the " + protocol + " pipeline");
        }
        return out;
    }
}
