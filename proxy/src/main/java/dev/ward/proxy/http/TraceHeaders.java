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

    /** Replaces any value the caller sent: the next hop must see this hop's context. */
    public static final TextMapSetter<HttpHeaders> SETTER = (carrier, key, value) -> {
        if (carrier != null) {
            carrier.set(key, value);
        }
    };
}
