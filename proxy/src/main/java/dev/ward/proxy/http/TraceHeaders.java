package dev.ward.proxy.http;

import io.netty.handler.codec.http.HttpHeaders;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapSetter;
import java.util.ArrayList;
import java.util.List;

/** Reads and writes trace context headers ({@code traceparent}, {@code b3}, ...) on Netty's HTTP headers. */
public final class TraceHeaders {

    private TraceHeaders() {
    }

    public static final TextMapGetter<HttpHeaders> GETTER = new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(HttpHeaders carrier) {
            List<String> names = new ArrayList<>(carrier.size());
            carrier.forEach(e -> names.add(e.getKey()));
            return names;
        }

        @Override
        public String get(HttpHeaders carrier, String key) {
            return carrier == null ? null : carrier.get(key);
        }
    };

    /**
     * HPACK: trace headers are new on every request, so adding them to the dynamic table would
     * only evict the entries that do repeat (and cost both ends a table insert per request); they
     * are sent as literals that are never indexed.
     */
    public static final io.netty.handler.codec.http2.Http2HeadersEncoder.SensitivityDetector NOT_INDEXED =
            (name, value) -> io.netty.util.AsciiString.contentEqualsIgnoreCase(name, "traceparent")
                    || io.netty.util.AsciiString.contentEqualsIgnoreCase(name, "tracestate")
                    || io.netty.util.AsciiString.contentEqualsIgnoreCase(name, "b3")
                    || io.netty.util.AsciiString.regionMatches(name, true, 0, "x-b3-", 0, 5);

    /** Replaces any value the caller sent: the next hop must see this hop's context. */
    public static final TextMapSetter<HttpHeaders> SETTER = (carrier, key, value) -> {
        if (carrier != null) {
            carrier.set(key, value);
        }
    };
}
