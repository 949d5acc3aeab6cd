package dev.ward.perf;

import dev.ward.authz.identity.SpiffeId;
import dev.ward.proxy.certs.DevCertificateAuthority;
import dev.ward.proxy.tls.TlsContexts;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.ReferenceCountUtil;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A whole mutual TLS 1.3 handshake between a client and a server engine built from Ward's own
 * contexts (both sides verifying the other's chain and SPIFFE id), in memory, no sockets: on
 * BoringSSL and, as the reference, on the JDK's provider. Each operation uses new engines.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
// Netty's leak detection off, as `ward` runs (WardCli.processDefaults): it samples buffers with stack traces.
@Fork(value = 1, jvmArgsAppend = "-Dio.netty.leakDetection.level=disabled")
public class TlsHandshakeBenchmark {

    @Param({"OPENSSL", "JDK"})
    public SslProvider provider;

    private Path dir;
    private TlsContexts server;
    private TlsContexts client;
    private final ByteBuffer c2s = ByteBuffer.allocate(64 * 1024);
    private final ByteBuffer s2c = ByteBuffer.allocate(64 * 1024);
    private final ByteBuffer app = ByteBuffer.allocate(64 * 1024);
    private final ByteBuffer empty = ByteBuffer.allocate(0);

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        dir = Files.createTempDirectory("ward-tls-bench");
        DevCertificateAuthority ca = DevCertificateAuthority.create("bench.example", Duration.ofDays(1));
        ca.issue(SpiffeId.parse("spiffe://bench.example/ns/shop/sa/orders"), Duration.ofDays(1)).writeTo(dir.resolve("orders"));
        ca.issue(SpiffeId.parse("spiffe://bench.example/ns/shop/sa/frontend"), Duration.ofDays(1)).writeTo(dir.resolve("frontend"));
        server = contexts("orders");
        client = contexts("frontend");
    }

    private TlsContexts contexts(String name) throws Exception {
        Path d = dir.resolve(name);
        return TlsContexts.load(new TlsContexts.Settings(d.resolve("tls.crt"), d.resolve("tls.key"), d.resolve("ca.crt"),
                "bench.example", provider, Duration.ZERO), Clock.systemUTC());
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        server.close();
        client.close();
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** One full mutual TLS 1.3 handshake, both sides verifying the other's chain and SPIFFE id. */
    @Benchmark
    public String handshake() throws Exception {
        SSLEngine c = client.client(true).newEngine(ByteBufAllocator.DEFAULT, "orders", 443);
        SSLEngine s = server.server().newEngine(ByteBufAllocator.DEFAULT);
        try {
            return handshake(c, s);
        } finally {
            ReferenceCountUtil.release(c);
            ReferenceCountUtil.release(s);
        }
    }

    private String handshake(SSLEngine c, SSLEngine s) throws SSLException {
        c2s.clear();
        s2c.clear();
        c.beginHandshake();
        s.beginHandshake();
        for (int i = 0; i < 50; i++) {
            step(c, s, c2s);
            step(s, c, s2c);
            if (done(c) && done(s)) {
                return c.getSession().getProtocol();
            }
        }
        throw new SSLException("handshake did not finish: client " + c.getHandshakeStatus() + ", server " + s.getHandshakeStatus());
    }

    /** {@code from} writes what it has into {@code wire}; {@code to} reads it. */
    private void step(SSLEngine from, SSLEngine to, ByteBuffer wire) throws SSLException {
        from.wrap(empty, wire);
        tasks(from);
        wire.flip();
        app.clear();
        to.unwrap(wire, app);
        tasks(to);
        wire.compact();
    }

    private static void tasks(SSLEngine e) {
        Runnable t;
        while ((t = e.getDelegatedTask()) != null) {
            t.run();
        }
    }

    private static boolean done(SSLEngine e) {
        HandshakeStatus h = e.getHandshakeStatus();
        return h == HandshakeStatus.NOT_HANDSHAKING || h == HandshakeStatus.FINISHED;
    }
}
