package dev.ward.telemetry.tracing;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import io.opentelemetry.sdk.trace.data.SpanData;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class SpanQueueTest {

    /** An exporter whose results the test completes. */
    static final class Held implements SpanExporter {
        final List<CompletableResultCode> results = new ArrayList<>();
        int spans;

        @Override
        public synchronized CompletableResultCode export(Collection<SpanData> batch) {
            spans += batch.size();
            CompletableResultCode r = new CompletableResultCode();
            results.add(r);
            return r;
        }

        @Override
        public CompletableResultCode flush() {
            return CompletableResultCode.ofSuccess();
        }

        @Override
        public CompletableResultCode shutdown() {
            return CompletableResultCode.ofSuccess();
        }
    }

    @Test
    void spansBeyondTheCapacityAreDroppedAndCountedAndFailuresAreCounted() throws Exception {
        SpanQueue q = new SpanQueue(5, Duration.ofSeconds(10));
        Held held = new Held();
        BatchSpanProcessor bsp = BatchSpanProcessor.builder(q.exporter(held)).setMaxQueueSize(5).setMaxExportBatchSize(5)
                .setScheduleDelay(Duration.ofMillis(10)).build();
        try (SdkTracerProvider tp = SdkTracerProvider.builder().addSpanProcessor(q.processor(bsp)).build()) {
            for (int i = 0; i < 8; i++) {
                Span s = tp.get("t").spanBuilder("s" + i).startSpan();
                s.end(); // never blocks, whatever the exporter does
            }
            assertThat(q.droppedQueueFull()).isEqualTo(3);
            assertThat(q.pending()).isEqualTo(5);
            for (int i = 0; i < 100 && held.results.isEmpty(); i++) {
                Thread.sleep(10);
            }
            synchronized (held) {
                held.results.get(0).failExceptionally(new java.io.IOException("collector down"));
            }
            assertThat(q.droppedExportFailed()).isEqualTo(held.spans);
            assertThat(q.failedExports()).isEqualTo(1);
            assertThat(q.lastError()).isEqualTo("collector down");
            assertThat(q.pending()).isEqualTo(5 - held.spans);
            // Room again: the next span is queued, exported, counted.
            tp.get("t").spanBuilder("later").startSpan().end();
            tp.forceFlush().join(1, TimeUnit.SECONDS);
            synchronized (held) {
                held.results.forEach(CompletableResultCode::succeed);
            }
            for (int i = 0; i < 100 && q.exported() == 0; i++) {
                Thread.sleep(10);
                synchronized (held) {
                    held.results.forEach(CompletableResultCode::succeed);
                }
            }
            assertThat(q.exported()).isGreaterThanOrEqualTo(1);
        }
    }
}
