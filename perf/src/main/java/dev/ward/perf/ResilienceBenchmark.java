package dev.ward.perf;

import dev.ward.proxy.config.ConfigLoader;
import dev.ward.proxy.config.SidecarConfig;
import dev.ward.proxy.resilience.Bulkhead;
import dev.ward.proxy.resilience.Resilience;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
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
 * What outbound resilience costs each request, beside a no-op baseline: a resilience4j circuit
 * breaker's permit and record (count window of 20, Ward's default), and the whole request-level
 * admission Ward does (breaker, bulkhead slot, retry-budget deposit) with the per-try endpoint
 * breaker of a multi-endpoint upstream.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ResilienceBenchmark {

    CircuitBreaker upstream;
    CircuitBreaker endpoint;
    Bulkhead bulkhead;
    Resilience resilience;
    long counter;

    @Setup
    public void setUp() throws Exception {
        SidecarConfig.Upstream u = ConfigLoader.parse(
                "outbound: { upstreams: { orders: { address: 127.0.0.1:1, identity: spiffe://td/sa/o } } }", "bench")
                .outbound().upstreams().get("orders");
        CircuitBreakerConfig c = CircuitBreakerConfig.custom()
                .slidingWindow(20, 10, CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                .automaticTransitionFromOpenToHalfOpenEnabled(false).writableStackTraceEnabled(false).build();
        upstream = CircuitBreaker.of("orders", c);
        endpoint = CircuitBreaker.of("orders@1", c);
        bulkhead = new Bulkhead(u.bulkhead().maxConcurrent(), u.bulkhead().maxPending());
        resilience = new Resilience(u.timeouts(), u.retry());
    }

    @Benchmark
    public long baseline() {
        return ++counter;
    }

    @Benchmark
    public boolean breakerPermitAndRecord() {
        boolean ok = upstream.tryAcquirePermission();
        upstream.onSuccess(1_000_000, TimeUnit.NANOSECONDS);
        return ok;
    }

    @Benchmark
    public boolean requestAdmission() {
        boolean ok = upstream.tryAcquirePermission() & bulkhead.tryEnter();
        resilience.requestStarted();
        ok &= endpoint.tryAcquirePermission();
        endpoint.onSuccess(1_000_000, TimeUnit.NANOSECONDS);
        upstream.onSuccess(1_000_000, TimeUnit.NANOSECONDS);
        bulkhead.exit();
        return ok;
    }
}
