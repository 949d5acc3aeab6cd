package dev.ward.telemetry;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.io.OutputStream;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * Writes one JSON object per line to a stream, whole lines only (one lock per line), for the
 * access and audit logs. A failure to format or write is swallowed: logging must never fail
 * the request it describes.
 */
final class JsonLines {

    private static final JsonFactory JSON = new JsonFactory();

    /** The fields of one line, written between the braces. */
    interface Fields {
        void write(JsonGenerator g) throws IOException;
    }

    private final OutputStream out;

    JsonLines(OutputStream out) {
        this.out = Objects.requireNonNull(out, "out");
    }

    static String format(Fields fields) throws IOException {
        StringWriter w = new StringWriter(192);
        try (JsonGenerator g = JSON.createGenerator(w)) {
            g.writeStartObject();
            fields.write(g);
            g.writeEndObject();
        }
        return w.append('\n').toString();
    }

    void write(Fields fields) {
        byte[] bytes;
        try {
            bytes = format(fields).getBytes(StandardCharsets.UTF_8);
        } catch (IOException e) {
            return;
        }
        try {
            synchronized (out) {
                out.write(bytes);
                out.flush();
            }
        } catch (IOException e) {
            // never fail a request because the log is unwritable
        }
    }
}
