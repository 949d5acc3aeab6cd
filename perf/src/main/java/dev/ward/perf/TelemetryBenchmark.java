package dev.ward.perf;

import dev.ward.proxy.http.TraceHeaders;
import dev.ward.telemetry.RequestRecord;
import dev.ward.telemetry.RequestTelemetry;
import dev.ward.telemetry.metrics.WardMetrics;
import dev.ward.telemetry.tracing.Tracing;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.concurrent.TimeUnit;
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
 * What telemetry costs one request on its event loop: read the caller's trace context, start
 * this hop's span, write the context into the forwarded headers, pick the upstream's metrics,
 * end (span, counter, histogram; the access log is off). {@code tracing}: {@code off} (no SDK),
 * {@code unsampled} (a root not sampled: the 99% of a 1% ratio), {@code sampled} (every span
 * recorded and handed to the batch span processor; its attributes are built by the processor's
 * thread, and the export runs on its own: neither is measured here). {@code caller}: with or
 * without an incoming sampled {@code traceparent}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class TelemetryBenchmark {

    @Param({"off", "unsampled", "onePercent", "sampled"})
    public String tracing;

    Tracing t;
    RequestTelemetry telemetry;
    HttpHeaders headers;

    @Setup(Level.Trial)
    public void setUp() {
        Double ratio = switch (tracing) {
            case "unsampled" -> 0.0;
            case "onePercent" -> 0.01;
            case "sampled" -> 1.0;
            default -> null;
        };
        // Spans go to a port nothing listens on: the request path is measured, not the export.
        t = Tracing.start(new Tracing.Settings(ratio == null ? "none" : "zipkin", ratio == null ? null : "http://127.0.0.1:9",
                ratio, null, "bench", "bench", "bench"));
        telemetry = new RequestTelemetry(RequestTelemetry.Direction.OUTBOUND, t, new WardMetrics("bench"), null, "bench");
        headers = new DefaultHttpHeaders();
        headers.set("host", "orders");
        headers.set("user-agent", "bench");
        headers.set("accept", "*/*");
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        t.close();
    }

    @Benchmark
    public RequestRecord request() {
        headers.remove("traceparent");
        RequestRecord r = telemetry.begin("GET", "/orders/42", headers, TraceHeaders.GETTER);
        r.upstream("orders");
        r.inject(headers, TraceHeaders.SETTER);
        r.circuit("closed");
        r.bytes(0, 18);
        r.end(200, null);
        return r;
    }
}
