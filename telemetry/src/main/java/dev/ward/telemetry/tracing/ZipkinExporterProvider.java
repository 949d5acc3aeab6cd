package dev.ward.telemetry.tracing;

import io.opentelemetry.sdk.autoconfigure.spi.ConfigProperties;
import io.opentelemetry.sdk.autoconfigure.spi.traces.ConfigurableSpanExporterProvider;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.time.Duration;

/**
 * Makes {@code OTEL_TRACES_EXPORTER=zipkin} work as the OpenTelemetry spec defines it, with
 * {@code OTEL_EXPORTER_ZIPKIN_ENDPOINT} (default {@value ZipkinSpanExporter#DEFAULT_ENDPOINT})
 * and {@code OTEL_EXPORTER_ZIPKIN_TIMEOUT} (default 10 s).
 */
public final class ZipkinExporterProvider implements ConfigurableSpanExporterProvider {

    @Override
    public SpanExporter createExporter(ConfigProperties config) {
        String endpoint = config.getString("otel.exporter.zipkin.endpoint", ZipkinSpanExporter.DEFAULT_ENDPOINT);
        Duration timeout = config.getDuration("otel.exporter.zipkin.timeout", Duration.ofSeconds(10));
        return new ZipkinSpanExporter(ZipkinSpanExporter.endpoint(endpoint), timeout);
    }

    @Override
    public String getName() {
        return "zipkin";
    }
}
