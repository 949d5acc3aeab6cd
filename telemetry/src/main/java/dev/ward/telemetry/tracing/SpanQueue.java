package dev.ward.telemetry.tracing;

import dev.ward.telemetry.LogLimiter;
import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.ReadWriteSpan;
import io.opentelemetry.sdk.trace.ReadableSpan;
import io.opentelemetry.sdk.trace.SpanProcessor;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.time.Duration;
import java.util.Collection;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Accounts for every sampled span between its end and its export, around the SDK's batch span
 * processor: {@link #processor} wraps the processor, {@link #exporter} the exporter. At most
 * {@code capacity} spans may be waiting or being exported; a span beyond that is dropped and
 * counted ({@code queue_full}), never blocking the request that ended it. A failed export is
 * counted ({@code export_failed}, with its spans) and logged once per interval with its cause;
 * it never fails or slows a request. Thread-safe.
 */
public final class SpanQueue {

    private static final Logger log = LoggerFactory.getLogger(SpanQueue.class);

    private final int capacity;
    private final AtomicInteger pending = new AtomicInteger();
    private final LongAdder exported = new LongAdder();
    private final LongAdder droppedQueueFull = new LongAdder();
    private final LongAdder droppedExportFailed = new LongAdder();
    private final LongAdder failedExports = new LongAdder();
    private final LogLimiter failureLog;
    private final LogLimiter dropLog;
    private volatile String lastError;

    public SpanQueue(int capacity, Duration logInterval) {
        if (capacity < 1) {
            throw new IllegalArgumentException("span queue capacity must be at least 1, not " + capacity);
        }
        this.capacity = capacity;
        this.failureLog = new LogLimiter(logInterval);
        this.dropLog = new LogLimiter(logInterval);
    }

    public int capacity() {
        return capacity;
    }

    /** Spans ended and not yet exported (or failed). */
    public int pending() {
        return pending.get();
    }

    public long exported() {
        return exported.sum();
    }

    public long droppedQueueFull() {
        return droppedQueueFull.sum();
    }

    public long droppedExportFailed() {
        return droppedExportFailed.sum();
    }

    public long failedExports() {
        return failedExports.sum();
    }

    /** The cause of the latest failed export, or null if none failed. */
    public String lastError() {
        return lastError;
    }

    /** The batch processor, behind the queue bound. */
    public SpanProcessor processor(SpanProcessor batch) {
        return new SpanProcessor() {
            @Override
            public void onStart(Context parent, ReadWriteSpan span) {
                batch.onStart(parent, span);
            }

            @Override
            public boolean isStartRequired() {
                return batch.isStartRequired();
            }

            @Override
            public void onEnd(ReadableSpan span) {
                if (!span.getSpanContext().isSampled()) {
                    return;
                }
                if (pending.incrementAndGet() > capacity) {
                    pending.decrementAndGet();
                    droppedQueueFull.increment();
                    long held = dropLog.tryLog();
                    if (held >= 0) {
                        log.warn("trace export queue full ({} spans waiting): dropping spans{}", capacity, LogLimiter.heldBack(held));
                    }
                    return;
                }
                batch.onEnd(span);
            }

            @Override
            public boolean isEndRequired() {
                return true;
            }

            @Override
            public CompletableResultCode shutdown() {
                return batch.shutdown();
            }

            @Override
            public CompletableResultCode forceFlush() {
                return batch.forceFlush();
            }
        };
    }

    /** The exporter, counting what it exports and what fails. */
    public SpanExporter exporter(SpanExporter delegate) {
        return new SpanExporter() {
            @Override
            public CompletableResultCode export(Collection<SpanData> spans) {
                int n = spans.size();
                CompletableResultCode r;
                try {
                    r = delegate.export(spans);
                } catch (RuntimeException e) {
                    r = CompletableResultCode.ofExceptionalFailure(e);
                }
                CompletableResultCode result = r;
                result.whenComplete(() -> done(n, result));
                return result;
            }

            @Override
            public CompletableResultCode flush() {
                return delegate.flush();
            }

            @Override
            public CompletableResultCode shutdown() {
                return delegate.shutdown();
            }

            @Override
            public String toString() {
                return delegate.toString();
            }
        };
    }

    private void done(int n, CompletableResultCode result) {
        pending.addAndGet(-n);
        if (result.isSuccess()) {
            exported.add(n);
            return;
        }
        droppedExportFailed.add(n);
        failedExports.increment();
        Throwable t = result.getFailureThrowable();
        String why = t == null ? "the exporter reported a failure" : t.getMessage() != null ? t.getMessage() : t.toString();
        lastError = why;
        long held = failureLog.tryLog();
        if (held >= 0) {
            log.warn("trace export failed, {} spans lost: {}{}", n, why, LogLimiter.heldBack(held));
        }
    }
}
