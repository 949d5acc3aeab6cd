package dev.ward.proxy.http;

import io.netty.handler.codec.DateFormatter;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValidationUtil;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeadersFactory;
import io.netty.util.AsciiString;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Calendar;
import java.util.Collections;
import java.util.Date;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;

/**
 * The header map of the HTTP/1.1 messages Ward relays: the headers in arrival order, in one array,
 * found by a scan that compares lengths before letters. Netty's {@code DefaultHttpHeaders} keeps a
 * 16-slot hash table, a sentinel entry and a six-field entry per header (about 340 B for a request
 * of four headers, 500 B for an app's response of eight), built for maps of any size; a message
 * carries a handful of headers, each looked up a few times, and is then encoded and dropped. This
 * map is 24 B, its array and 24 B per header.
 *
 * <p>Semantics are {@code DefaultHttpHeaders}' with validation on: names are case-insensitive;
 * every name must be a token and every value free of CR, LF and NUL (RFC 9110 5.1, 5.5), checked
 * as each is added, with Netty's messages (the HTTP/1.1 decoders turn them into a 400); values
 * are converted as Netty converts them (dates in HTTP date format); {@link #get} returns the
 * first value added; iteration is in the order added (also {@link #valueCharSequenceIterator}'s,
 * which in Netty's map runs newest first). The scans are linear in the number of
 * headers, which the decoders bound by their maximum header size.
 */
public final class CompactHttpHeaders extends HttpHeaders {

    /** Messages' headers. */
    public static final HttpHeadersFactory FACTORY = new Factory(false);
    /** Trailers: as {@link #FACTORY}, also refusing the framing headers a trailer must not carry, as Netty's trailers do. */
    public static final HttpHeadersFactory TRAILERS = new Factory(true);

    private static final Field[] NONE = new Field[0];

    private final boolean trailers;
    private Field[] fields = NONE;
    private int size;

    public CompactHttpHeaders() {
        this(false);
    }

    private CompactHttpHeaders(boolean trailers) {
        this.trailers = trailers;
    }

    /** One header: a name and its value, as iteration hands it out. */
    private static final class Field implements Map.Entry<CharSequence, CharSequence> {
        final CharSequence name;
        CharSequence value;

        Field(CharSequence name, CharSequence value) {
            this.name = name;
            this.value = value;
        }

        @Override
        public CharSequence getKey() {
            return name;
        }

        @Override
        public CharSequence getValue() {
            return value;
        }

        @Override
        public CharSequence setValue(CharSequence value) {
            validateValue(name, Objects.requireNonNull(value, "value"));
            CharSequence old = this.value;
            this.value = value;
            return old;
        }

        @Override
        public String toString() {
            return name + "=" + value;
        }
    }

    // ---- lookups

    private static boolean sameName(CharSequence a, CharSequence b) {
        return a == b || a.length() == b.length() && AsciiString.contentEqualsIgnoreCase(a, b);
    }

    private int indexOf(CharSequence name, int from) {
        Field[] f = fields;
        for (int i = from, n = size; i < n; i++) {
            if (sameName(f[i].name, name)) {
                return i;
            }
        }
        return -1;
    }

    /** The first value of {@code name}, as added (no copy), or null. */
    public CharSequence value(CharSequence name) {
        int i = indexOf(Objects.requireNonNull(name, "name"), 0);
        return i < 0 ? null : fields[i].value;
    }

    @Override
    public String get(String name) {
        return get((CharSequence) name);
    }

    @Override
    public String get(CharSequence name) {
        CharSequence v = value(name);
        return v == null ? null : v.toString();
    }

    /** The first value of {@code name} parsed, or null when there is none or it does not parse (as Netty's map answers). */
    private <T> T parsed(CharSequence name, Function<CharSequence, T> parser) {
        CharSequence v = value(name);
        if (v == null) {
            return null;
        }
        try {
            return parser.apply(v);
        } catch (RuntimeException e) {
            return null;
        }
    }

    @Override
    public Integer getInt(CharSequence name) {
        return parsed(name, v -> v instanceof AsciiString a ? a.parseInt() : Integer.parseInt(v.toString()));
    }

    @Override
    public int getInt(CharSequence name, int defaultValue) {
        Integer v = getInt(name);
        return v == null ? defaultValue : v;
    }

    @Override
    public Short getShort(CharSequence name) {
        return parsed(name, v -> v instanceof AsciiString a ? a.parseShort() : Short.parseShort(v.toString()));
    }

    @Override
    public short getShort(CharSequence name, short defaultValue) {
        Short v = getShort(name);
        return v == null ? defaultValue : v;
    }

    @Override
    public Long getTimeMillis(CharSequence name) {
        return parsed(name, v -> {
            Date d = DateFormatter.parseHttpDate(v);
            return d == null ? null : d.getTime();
        });
    }

    @Override
    public long getTimeMillis(CharSequence name, long defaultValue) {
        Long v = getTimeMillis(name);
        return v == null ? defaultValue : v;
    }

    @Override
    public List<String> getAll(String name) {
        return getAll((CharSequence) name);
    }

    @Override
    public List<String> getAll(CharSequence name) {
        int i = indexOf(Objects.requireNonNull(name, "name"), 0);
        if (i < 0) {
            return Collections.emptyList();
        }
        int next = indexOf(name, i + 1);
        if (next < 0) {
            return Collections.singletonList(fields[i].value.toString());
        }
        List<String> all = new ArrayList<>(4);
        all.add(fields[i].value.toString());
        for (int j = next; j >= 0; j = indexOf(name, j + 1)) {
            all.add(fields[j].value.toString());
        }
        return Collections.unmodifiableList(all);
    }

    @Override
    public Iterator<String> valueStringIterator(CharSequence name) {
        return getAll(name).iterator();
    }

    /** The values of {@code name} in order, without copying them into strings. */
    @Override
    public Iterator<? extends CharSequence> valueCharSequenceIterator(CharSequence name) {
        int first = indexOf(Objects.requireNonNull(name, "name"), 0);
        if (first < 0) {
            return Collections.emptyIterator();
        }
        return new Iterator<CharSequence>() {
            private int next = first;

            @Override
            public boolean hasNext() {
                return next >= 0;
            }

            @Override
            public CharSequence next() {
                if (next < 0) {
                    throw new NoSuchElementException();
                }
                CharSequence v = fields[next].value;
                next = indexOf(name, next + 1);
                return v;
            }
        };
    }

    @Override
    public boolean contains(String name) {
        return contains((CharSequence) name);
    }

    @Override
    public boolean contains(CharSequence name) {
        return indexOf(Objects.requireNonNull(name, "name"), 0) >= 0;
    }

    /** A value of {@code name} equal to {@code value} as a whole (not comma-separated: {@link #containsValue} for that). */
    @Override
    public boolean contains(CharSequence name, CharSequence value, boolean ignoreCase) {
        Objects.requireNonNull(value, "value");
        for (int i = indexOf(Objects.requireNonNull(name, "name"), 0); i >= 0; i = indexOf(name, i + 1)) {
            CharSequence v = fields[i].value;
            if (ignoreCase ? AsciiString.contentEqualsIgnoreCase(v, value) : AsciiString.contentEquals(v, value)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public boolean contains(String name, String value, boolean ignoreCase) {
        return contains((CharSequence) name, value, ignoreCase);
    }

    @Override
    public boolean isEmpty() {
        return size == 0;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public Set<String> names() {
        Set<String> names = new LinkedHashSet<>(size * 2);
        for (int i = 0; i < size; i++) {
            names.add(fields[i].name.toString());
        }
        return names;
    }

    @Override
    public List<Map.Entry<String, String>> entries() {
        if (size == 0) {
            return Collections.emptyList();
        }
        List<Map.Entry<String, String>> entries = new ArrayList<>(size);
        for (int i = 0; i < size; i++) {
            entries.add(new AbstractMap.SimpleImmutableEntry<>(fields[i].name.toString(), fields[i].value.toString()));
        }
        return entries;
    }

    @Override
    public Iterator<Map.Entry<String, String>> iterator() {
        return entries().iterator();
    }

    /** The headers in the order added; each entry's value can be set (validated), none removed. */
    @Override
    public Iterator<Map.Entry<CharSequence, CharSequence>> iteratorCharSequence() {
        return new Iterator<Map.Entry<CharSequence, CharSequence>>() {
            private int next;

            @Override
            public boolean hasNext() {
                return next < size;
            }

            @Override
            public Map.Entry<CharSequence, CharSequence> next() {
                if (next >= size) {
                    throw new NoSuchElementException();
                }
                return fields[next++];
            }
        };
    }

    // ---- changes

    private static void validateName(CharSequence name, boolean trailer) {
        if (name == null || name.length() == 0) {
            throw new IllegalArgumentException("empty headers are not allowed [" + name + ']');
        }
        int index = HttpHeaderValidationUtil.validateToken(name);
        if (index != -1) {
            throw new IllegalArgumentException("a header name can only contain \"token\" characters, but found invalid character 0x"
                    + Integer.toHexString(name.charAt(index)) + " at index " + index + " of header '" + name + "'.");
        }
        if (trailer && (HttpHeaderNames.CONTENT_LENGTH.contentEqualsIgnoreCase(name)
                || HttpHeaderNames.TRANSFER_ENCODING.contentEqualsIgnoreCase(name)
                || HttpHeaderNames.TRAILER.contentEqualsIgnoreCase(name))) {
            throw new IllegalArgumentException("prohibited trailing header: " + name);
        }
    }

    private static void validateValue(CharSequence name, CharSequence value) {
        int index = HttpHeaderValidationUtil.validateValidHeaderValue(value);
        if (index != -1) {
            throw new IllegalArgumentException("Validation failed for header '" + name + "'", new IllegalArgumentException(
                    "a header value contains prohibited character 0x" + Integer.toHexString(value.charAt(index)) + " at index " + index + '.'));
        }
    }

    /** A value as Netty's header maps convert it: text as it is, dates in HTTP date format, anything else by {@code toString}. */
    private static CharSequence toValue(CharSequence name, Object value) {
        Objects.requireNonNull(value, "value");
        CharSequence v;
        if (value instanceof CharSequence cs) {
            v = cs;
        } else if (value instanceof Date d) {
            v = DateFormatter.format(d);
        } else if (value instanceof Calendar c) {
            v = DateFormatter.format(c.getTime());
        } else {
            v = value.toString();
        }
        validateValue(name, v);
        return v;
    }

    private void append(CharSequence name, CharSequence value) {
        if (size == fields.length) {
            fields = Arrays.copyOf(fields, Math.max(8, size * 2));
        }
        fields[size++] = new Field(name, value);
    }

    @Override
    public HttpHeaders add(String name, Object value) {
        return add((CharSequence) name, value);
    }

    @Override
    public HttpHeaders add(CharSequence name, Object value) {
        validateName(name, trailers);
        append(name, toValue(name, value));
        return this;
    }

    @Override
    public HttpHeaders add(String name, Iterable<?> values) {
        return add((CharSequence) name, values);
    }

    @Override
    public HttpHeaders add(CharSequence name, Iterable<?> values) {
        validateName(name, trailers);
        for (Object v : values) {
            append(name, toValue(name, v));
        }
        return this;
    }

    @Override
    public HttpHeaders add(HttpHeaders headers) {
        Objects.requireNonNull(headers, "headers");
        if (headers == this) {
            throw new IllegalArgumentException("can't add to itself.");
        }
        for (Iterator<Map.Entry<CharSequence, CharSequence>> it = headers.iteratorCharSequence(); it.hasNext(); ) {
            Map.Entry<CharSequence, CharSequence> e = it.next();
            add(e.getKey(), e.getValue());
        }
        return this;
    }

    @Override
    public HttpHeaders addInt(CharSequence name, int value) {
        return add(name, Integer.toString(value));
    }

    @Override
    public HttpHeaders addShort(CharSequence name, short value) {
        return add(name, Short.toString(value));
    }

    @Override
    public HttpHeaders set(String name, Object value) {
        return set((CharSequence) name, value);
    }

    @Override
    public HttpHeaders set(CharSequence name, Object value) {
        validateName(name, trailers);
        CharSequence v = toValue(name, value);
        remove(name);
        append(name, v);
        return this;
    }

    @Override
    public HttpHeaders set(String name, Iterable<?> values) {
        return set((CharSequence) name, values);
    }

    @Override
    public HttpHeaders set(CharSequence name, Iterable<?> values) {
        validateName(name, trailers);
        List<CharSequence> converted = new ArrayList<>();
        for (Object v : values) {
            converted.add(toValue(name, v));
        }
        remove(name);
        for (CharSequence v : converted) {
            append(name, v);
        }
        return this;
    }

    @Override
    public HttpHeaders set(HttpHeaders headers) {
        Objects.requireNonNull(headers, "headers");
        if (headers != this) {
            clear();
            add(headers);
        }
        return this;
    }

    @Override
    public HttpHeaders setInt(CharSequence name, int value) {
        return set(name, Integer.toString(value));
    }

    @Override
    public HttpHeaders setShort(CharSequence name, short value) {
        return set(name, Short.toString(value));
    }

    @Override
    public HttpHeaders remove(String name) {
        return remove((CharSequence) name);
    }

    /** Removes every value of {@code name}, keeping the others in order. */
    @Override
    public HttpHeaders remove(CharSequence name) {
        int i = indexOf(Objects.requireNonNull(name, "name"), 0);
        if (i < 0) {
            return this;
        }
        Field[] f = fields;
        int kept = i;
        for (int j = i + 1; j < size; j++) {
            if (!sameName(f[j].name, name)) {
                f[kept++] = f[j];
            }
        }
        Arrays.fill(f, kept, size, null);
        size = kept;
        return this;
    }

    /**
     * Removes every header whose name is in {@code names}, keeping the others in order: what
     * {@link #remove} does for each of the names, in one pass over the headers rather than one
     * pass per name.
     */
    void removeAll(NameTable names) {
        Field[] f = fields;
        int kept = 0;
        for (int i = 0, n = size; i < n; i++) {
            Field field = f[i];
            if (!names.contains(field.name)) {
                f[kept++] = field;
            }
        }
        Arrays.fill(f, kept, size, null);
        size = kept;
    }

    @Override
    public HttpHeaders clear() {
        Arrays.fill(fields, 0, size, null);
        size = 0;
        return this;
    }

    @Override
    public HttpHeaders copy() {
        CompactHttpHeaders copy = new CompactHttpHeaders(trailers);
        if (size > 0) {
            copy.fields = new Field[fields.length];
            for (int i = 0; i < size; i++) {
                copy.fields[i] = new Field(fields[i].name, fields[i].value);
            }
            copy.size = size;
        }
        return copy;
    }

    private static final class Factory implements HttpHeadersFactory {
        private final boolean trailers;

        Factory(boolean trailers) {
            this.trailers = trailers;
        }

        @Override
        public HttpHeaders newHeaders() {
            return new CompactHttpHeaders(trailers);
        }

        @Override
        public HttpHeaders newEmptyHeaders() {
            return new CompactHttpHeaders(trailers);
        }
    }
}
