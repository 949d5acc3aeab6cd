package dev.ward.proxy.config;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.module.SimpleModule;
import java.io.IOException;
import java.time.Duration;

/** Durations as written in config files and flags: {@code 250ms}, {@code 2s}, {@code 5m}, {@code 24h}, {@code 30d}. */
public final class Durations {

    private Durations() {}

    /** @throws IllegalArgumentException naming the value and the expected form */
    public static Duration parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("duration: empty (expected: e.g. 500ms, 2s, 5m, 24h, 30d)");
        }
        String t = text.trim();
        int i = 0;
        while (i < t.length() && Character.isDigit(t.charAt(i))) {
            i++;
        }
        if (i == 0 || i > 12) {
            throw new IllegalArgumentException("duration: " + text + " (expected: e.g. 500ms, 2s, 5m, 24h, 30d)");
        }
        long n = Long.parseLong(t.substring(0, i));
        return switch (t.substring(i)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            case "d" -> Duration.ofDays(n);
            default -> throw new IllegalArgumentException("duration: " + text
                    + " (expected: a number and a unit: ms, s, m, h or d)");
        };
    }

    /** The shortest exact form: {@code 1500ms}, {@code 2s}, {@code 5m}. */
    public static String format(Duration d) {
        long ms = d.toMillis();
        if (ms % 86_400_000 == 0 && ms != 0) {
            return ms / 86_400_000 + "d";
        }
        if (ms % 3_600_000 == 0 && ms != 0) {
            return ms / 3_600_000 + "h";
        }
        if (ms % 60_000 == 0 && ms != 0) {
            return ms / 60_000 + "m";
        }
        if (ms % 1000 == 0) {
            return ms / 1000 + "s";
        }
        return ms + "ms";
    }

    /** Jackson bindings for {@link Duration} in this notation (and file paths as plain strings). */
    public static SimpleModule jacksonModule() {
        SimpleModule m = new SimpleModule("ward-durations");
        m.addDeserializer(Duration.class, new JsonDeserializer<>() {
            @Override
            public Duration deserialize(JsonParser p, DeserializationContext ctx) throws IOException {
                return parse(p.getValueAsString());
            }
        });
        m.addSerializer(java.nio.file.Path.class, new JsonSerializer<>() {
            @Override
            public void serialize(java.nio.file.Path value, JsonGenerator gen, SerializerProvider s) throws IOException {
                gen.writeString(value.toString());
            }
        });
        m.addSerializer(Duration.class, new JsonSerializer<>() {
            @Override
            public void serialize(Duration value, JsonGenerator gen, SerializerProvider s) throws IOException {
                gen.writeString(format(value));
            }
        });
        return m;
    }
}
