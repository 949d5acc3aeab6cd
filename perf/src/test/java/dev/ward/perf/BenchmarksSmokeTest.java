package dev.ward.perf;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Collection;
import org.junit.jupiter.api.Test;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/** Runs every benchmark once, briefly and in-process, so the harness cannot rot. Not a measurement. */
class BenchmarksSmokeTest {

    @Test
    void everyBenchmarkRuns() throws Exception {
        Collection<RunResult> results = once(new OptionsBuilder()
                .include("dev\\.ward\\.perf\\..*Benchmark")
                .param("rules", "10")
                .param("alg", "ES256"));
        assertThat(results).hasSize(22); // decide allowed/denied, normalize (dot segments, canonical), token cached/cachedHeader/uncached, resilience ×3, telemetry ×4,
        // SPIFFE parse and peer verification, TLS handshake on BoringSSL and on the JDK, pipelines h1/h2 connection × in/out
        assertThat(results).allSatisfy(r -> assertThat(r.getPrimaryResult().getScore()).isPositive());
    }

    /**
     * A calling sidecar's whole path, its app's request out to the next sidecar over HTTP/2 and the
     * response back: the benchmark fails (and so this) if no request frame leaves or no response
     * reaches the app's side.
     */
    @Test
    void theOutboundPipelineToTheNextSidecarOverHttp2Runs() throws Exception {
        Collection<RunResult> results = once(new OptionsBuilder()
                .include("dev\\.ward\\.perf\\.PipelineBenchmark")
                .param("protocol", "http1")
                .param("direction", "outbound")
                .param("upstreamCodec", "h2"));
        assertThat(results).hasSize(1);
        assertThat(results.iterator().next().getPrimaryResult().getScore()).isPositive();
    }

    /**
     * The serving sidecar's path under a policy, with and without a bearer token: the benchmark
     * fails (and so this) if the policy refuses the request instead of forwarding it.
     */
    @Test
    void theInboundPipelineUnderAPolicyRuns() throws Exception {
        Collection<RunResult> results = once(new OptionsBuilder()
                .include("dev\\.ward\\.perf\\.PipelineBenchmark")
                .param("direction", "inbound")
                .param("policy", "allow", "token"));
        assertThat(results).hasSize(4); // HTTP/1.1 and an HTTP/2 connection, each under both policies
        assertThat(results).allSatisfy(r -> assertThat(r.getPrimaryResult().getScore()).isPositive());
    }

    /** Each selected benchmark once, in this JVM, for 50 ms; a benchmark that throws fails the run. */
    private static Collection<RunResult> once(org.openjdk.jmh.runner.options.ChainedOptionsBuilder selected) throws Exception {
        Options opt = selected
                .forks(0)
                .warmupIterations(0)
                .measurementIterations(1)
                .measurementTime(TimeValue.milliseconds(50))
                .shouldFailOnError(true)
                .build();
        return new Runner(opt).run();
    }
}
