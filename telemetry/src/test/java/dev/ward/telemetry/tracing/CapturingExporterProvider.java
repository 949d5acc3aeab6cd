package dev.ward.telemetry.tracing;

import io.opentelemetry.sdk.autoconfigure.spi.ConfigProperties;
import io.opentelemetry.sdk.autoconfigure.spi.traces.ConfigurableSpanExporterProvider;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * The exporter {@code otel.traces.exporter=capture} chooses in tests: it keeps what the batch
 * span processor exports, past the SDK's shutdown (which the SDK's in-memory exporter clears).
 */
public final class CapturingExporterProvider implements ConfigurableSpanExporterProvider {

    private static final List<SpanData> SPANS = new ArrayList<>();

    /** Everything exported since the last call, in the order it was exported. */
    static synchronized List<SpanData> take() {
        List<SpanData> out = List.copyOf(SPANS);
        SPANS.clear();
        return out;
    }

    @Override
    public SpanExporter createExporter(ConfigProperties config) {
        return new SpanExporter() {
            @Override
            public CompletableResultCode export(Collection<SpanData> spans) {
                synchronized (CapturingExporterProvider.class) {
                    SPANS.addAll(spans);
                }
                return CompletableResultCode.ofSuccess();
            }

            @Override
            public CompletableResultCode flush() {
                return CompletableResultCode.ofSuccess();
            }

            @Override
            public CompletableResultCode shutdown() {
                return CompletableResultCode.ofSuccess();
            }
        };
    }

    @Override
    public String getName() {
        return "capture";
    }
}
