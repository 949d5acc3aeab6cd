package dev.ward.perf;

import dev.ward.authz.identity.SpiffeId;
import dev.ward.proxy.certs.DevCertificateAuthority;
import dev.ward.proxy.tls.SpiffeTrustManager;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The identity work of a connection outside the TLS library: parsing a SPIFFE id, and verifying a
 * peer's chain against the bundle and reading its SPIFFE id ({@link SpiffeTrustManager}, as every
 * handshake does, on both sides).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class IdentityBenchmark {

    private SpiffeTrustManager trust;
    private X509Certificate[] chain;

    @Setup
    public void setUp() {
        DevCertificateAuthority ca = DevCertificateAuthority.create("bench.example", Duration.ofDays(1));
        chain = new X509Certificate[] {
            ca.issue(SpiffeId.parse("spiffe://bench.example/ns/shop/sa/frontend"), Duration.ofDays(1)).certificate()
        };
        trust = new SpiffeTrustManager(List.of(ca.certificate()), "bench.example", Clock.systemUTC());
    }

    @Benchmark
    public SpiffeId parseSpiffeId() {
        return SpiffeId.parse("spiffe://bench.example/ns/shop/sa/frontend");
    }

    @Benchmark
    public SpiffeId verifyPeer() throws Exception {
        return trust.verify(chain);
    }
}
