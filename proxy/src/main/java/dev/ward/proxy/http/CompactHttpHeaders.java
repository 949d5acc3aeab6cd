package dev.ward.proxy.http;

import io.netty.handler.codec.DateFormatter;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValidationUtil;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeadersFactory;
import io.netty.util.AsciiString;
import io.netty.util.internal.PlatformDependent;
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
 * map is 24 B and one array, a header's name and value side by side in it: 8 B per header (80 B
 * for the first eight). Until 2026-12-04 each header was an entry object of its own as well
 * (24 B more per header: 80 B per HTTP/1.1 request relayed, request and response, by JMH).
 *
 * <p>Semantics are {@code DefaultHttpHeaders}' with validation on: names are case-insensitive;
 * every name must be a token and every value free of CR, LF and NUL (RFC 9110 5.1, 5.5), checked
 * as each is added, with Netty's messages (the HTTP/1.1 decoders turn them into a 400); values
 * are converted as Netty converts them (dates in HTTP date format); {@link #get} returns the
 * first value added; iteration is in the order added (also {@link #valueCharSequenceIterator}'s,
 * which in Netty's map runs newest first). The scans are linear in the number of
 * headers, which the decoders bound by their maximum header size.
 *
 * <p>One difference: the entries {@link #iteratorCharSequence} hands out are one view, the
 * header under the iterator, that moves on with {@code next()}. Read (or set) an entry before
 * asking for the next one, as Netty's encoders and converters do; {@link #entries} and
 * {@link #iterator} give independent copies.
 */
public sealed class CompactHttpHeaders extends HttpHeaders {

    /** Messages' headers. */
    public static final HttpHeadersFactory FACTORY = new Factory(false);
    /** Trailers: as {@link #FACTORY}, also refusing the framing headers a trailer must not carry, as Netty's trailers do. */
    public static final HttpHeadersFactory TRAILERS = new Factory(true);

    private static final CharSequence[] NONE = new CharSequence[0];

    /** The connection's header values as its decoder last saw them, while that decoder fills this map; null otherwise. */
    private Repeats repeats;
    /** Header {@code i}'s name at {@code 2i}, its value at {@code 2i + 1}, in the order added. */
    private CharSequence[] slots = NONE;
    /** Headers, not slots. */
    private int size;

    public CompactHttpHeaders() {
    }

    private CompactHttpHeaders(Repeats repeats) {
        this.repeats = repeats;
    }

    /**
     * A trailer map: also refuses the framing headers a trailer must not carry. A class of its
     * own rather than a flag, which with {@link #repeats} would take a map from 24 to 32 bytes.
     */
    private static final class Trailers extends CompactHttpHeaders {
        @Override
        boolean trailers() {
            return true;
        }
    }

    boolean trailers() {
        return false;
    }

    /**
     * The factory for one connection's HTTP/1.1 decoder (one each: it keeps that connection's
     * {@link Repeats}). A message's header value that repeats the one its name had in the
     * connection's message before goes in as that same object, an {@link AsciiString}, checked
     * once. Over HTTP/2 the HPACK encoder then finds it in its dynamic table by its kept hash and
     * by identity instead of hashing and comparing it character by character (an app's response of
     * eight headers: about 275 -> 100-130 ns), and the HTTP/1.1 encoders copy it in one piece.
     * The decoder calls {@link #headDecoded} once the head is read, after which the map is an
     * ordinary one.
     */
    static HttpHeadersFactory decoding() {
        return new Factory(new Repeats());
    }

    /** The head whose headers these are has been read: later additions (Ward's own) are not the connection's. */
    static void headDecoded(HttpHeaders headers) {
        if (headers instanceof CompactHttpHeaders compact) {
            compact.repeats = null;
        }
    }

    /**
     * One connection's header values by name: for each of 32 slots (by name hash), the last name
     * seen there and its value as an {@link AsciiString}, which every later message that repeats
     * both gets. Names the decoder knows ({@link HeadsToHttp2#knownName}) are
     * shared constants and match by identity; others by content. Credentials ({@code
     * Authorization}, cookies) are never kept, nor are names over 64 characters or values over
     * 128: the values an app or caller repeats are short, and so a connection holds at most about
     * 13 KB here whatever its peer sends (unbounded, 32 header-size limits would stay pinned per
     * idle connection). On the connection's event loop only.
     */
    static final class Repeats {
        private static final int SLOTS = 32;
        static final int MAX_NAME = 64;
        static final int MAX_VALUE = 128;
        private final AsciiString[] names = new AsciiString[SLOTS];
        private final AsciiString[] values = new AsciiString[SLOTS];

        /** The value kept for this name and text, or null. */
        AsciiString find(AsciiString name, String text) {
            int i = name.hashCode() & (SLOTS - 1);
            AsciiString n = names[i];
            // The kept value's String, made once and kept by the AsciiString: one intrinsic compare per header.
            return n != null && (n == name || n.contentEquals(name)) && values[i].toString().equals(text) ? values[i] : null;
        }

        /** {@link #find(AsciiString, String)} for a value given as bytes (Latin-1), so that a repeat makes no object. */
        AsciiString find(AsciiString name, byte[] bytes, int start, int length) {
            int i = name.hashCode() & (SLOTS - 1);
            AsciiString n = names[i];
            if (n == null || n != name && !n.contentEquals(name)) {
                return null;
            }
            AsciiString v = values[i];
            return v.length() == length && PlatformDependent.equals(v.array(), v.arrayOffset(), bytes, start, length) ? v : null;
        }

        /** What to store for a checked name and text not found: a value kept for next time, or the text itself (a credential, too long). */
        CharSequence keep(AsciiString name, String text) {
            return keeps(name, text) ? store(name, new AsciiString(text)) : text;
        }

        /** {@link #keep(AsciiString, String)} for a checked value already in bytes: kept as it is, if at all. */
        AsciiString keep(AsciiString name, AsciiString value) {
            return keeps(name, value) ? store(name, value) : value;
        }

        private static boolean keeps(AsciiString name, CharSequence value) {
            return name.length() <= MAX_NAME && value.length() <= MAX_VALUE && !credential(name);
        }

        private AsciiString store(AsciiString name, AsciiString value) {
            int i = name.hashCode() & (SLOTS - 1);
            names[i] = name;
            values[i] = value;
            return value;
        }

        private static boolean credential(AsciiString name) {
            return HttpHeaderNames.AUTHORIZATION.contentEqualsIgnoreCase(name) || HttpHeaderNames.COOKIE.contentEqualsIgnoreCase(name)
                    || HttpHeaderNames.SET_COOKIE.contentEqualsIgnoreCase(name)
                    || HttpHeaderNames.PROXY_AUTHORIZATION.contentEqualsIgnoreCase(name);
        }
    }

    /**
     * A map with room for {@code capacity} headers before its array grows: for a message whose
     * header count is known, as an HTTP/2 message's converted to HTTP/1.1 ({@link HeadsToHttp2}).
     */
    CompactHttpHeaders(int capacity) {
        if (capacity > 0) {
            slots = new CharSequence[capacity << 1];
        }
    }

    /**
     * A map of the first {@code size} headers on {@code slots} (header {@code i}'s name at
     * {@code 2i}, its value at {@code 2i + 1}), which it takes: headers checked as
     * {@link #addValidated} takes them ({@link HeadsToHttp2}, an HTTP/2 head converted in place).
     */
    CompactHttpHeaders(CharSequence[] slots, int size) {
        this.slots = slots;
        this.size = size;
    }

    /**
     * {@link #iteratorCharSequence}: the iterator is also the entry it hands out, the header at
     * its cursor (see the class comment).
     */
    private final class Cursor implements Iterator<Map.Entry<CharSequence, CharSequence>>, Map.Entry<CharSequence, CharSequence> {
        private int next;
        private int at = -1;

        @Override
        public boolean hasNext() {
            return next < size;
        }

        @Override
        public Map.Entry<CharSequence, CharSequence> next() {
            if (next >= size) {
                throw new NoSuchElementException();
            }
            at = next++;
            return this;
        }

        @Override
        public CharSequence getKey() {
            return slots[at << 1];
        }

        @Override
        public CharSequence getValue() {
            return slots[(at << 1) + 1];
        }

        @Override
        public CharSequence setValue(CharSequence value) {
            validateValue(getKey(), Objects.requireNonNull(value, "value"));
            CharSequence old = getValue();
            slots[(at << 1) + 1] = value;
            return old;
        }

        @Override
        public String toString() {
            return getKey() + "=" + getValue();
        }
    }

    // ---- lookups

    private static boolean sameName(CharSequence a, CharSequence b) {
        return a == b || a.length() == b.length() && AsciiString.contentEqualsIgnoreCase(a, b);
    }

    private int indexOf(CharSequence name, int from) {
        CharSequence[] s = slots;
        for (int i = from, n = size; i < n; i++) {
            if (sameName(s[i << 1], name)) {
                return i;
            }
        }
        return -1;
    }

    private CharSequence valueAt(int i) {
        return slots[(i << 1) + 1];
    }

    /** The first value of {@code name}, as added (no copy), or null. */
    public CharSequence value(CharSequence name) {
        int i = indexOf(Objects.requireNonNull(name, "name"), 0);
        return i < 0 ? null : valueAt(i);
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
            return Collections.singletonList(valueAt(i).toString());
        }
        List<String> all = new ArrayList<>(4);
        all.add(valueAt(i).toString());
        for (int j = next; j >= 0; j = indexOf(name, j + 1)) {
            all.add(valueAt(j).toString());
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
                CharSequence v = valueAt(next);
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
            CharSequence v = valueAt(i);
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
            names.add(slots[i << 1].toString());
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
            entries.add(new AbstractMap.SimpleImmutableEntry<>(slots[i << 1].toString(), valueAt(i).toString()));
        }
        return entries;
    }

    @Override
    public Iterator<Map.Entry<String, String>> iterator() {
        return entries().iterator();
    }

    /**
     * The headers in the order added; each entry's value can be set (validated), none removed. The
     * entry is a view of the current header, valid until {@code next()} (see the class comment).
     */
    @Override
    public Iterator<Map.Entry<CharSequence, CharSequence>> iteratorCharSequence() {
        return new Cursor();
    }

    // ---- changes

    static void validateName(CharSequence name, boolean trailer) {
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
        String bad = invalidValue(value);
        if (bad != null) {
            throw new IllegalArgumentException("Validation failed for header '" + name + "'", new IllegalArgumentException(bad));
        }
    }

    /** What is wrong with {@code value} as a header value (a CR, LF, NUL or other control, and where), or null. */
    static String invalidValue(CharSequence value) {
        int index = value instanceof AsciiString a ? invalidIndex(a.array(), a.arrayOffset(), a.length())
                : HttpHeaderValidationUtil.validateValidHeaderValue(value);
        return index == -1 ? null
                : "a header value contains prohibited character 0x" + Integer.toHexString(value.charAt(index)) + " at index " + index + '.';
    }

    /**
     * Where the value {@code b[start, start + length)} breaks RFC 9110's field-content rule, or -1:
     * the rule of Netty's {@link HttpHeaderValidationUtil#validateValidHeaderValue} (no control but
     * HTAB, no DEL; not starting with SP or HTAB), eight bytes at a time. Every value that crosses
     * the sidecar from HTTP/2 is checked once; Netty's loop, a byte at a time, took 0.2 µs of a
     * 600-byte bearer token's way through the inbound sidecar. From the first word with a byte
     * under 0x20 or a DEL on, the rest goes a byte at a time (an HTAB is allowed, and rare).
     */
    static int invalidIndex(byte[] b, int start, int length) {
        if (length == 0) {
            return -1;
        }
        int first = b[start] & 0xFF;
        if (first < 0x21 || first == 0x7F) {
            return 0;
        }
        int i = 1;
        while (i + 8 <= length && !AsciiWords.controlOrDel(AsciiWords.word(b, start + i))) {
            i += 8; // no control, no DEL: nothing to look at in these eight
        }
        for (; i < length; i++) { // from the first word with a control (an HTAB is one) or DEL, a byte at a time
            int c = b[start + i] & 0xFF;
            if (c < 0x20 && c != 0x09 || c == 0x7F) {
                return i;
            }
        }
        return -1;
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
        int at = size << 1;
        if (at == slots.length) {
            slots = Arrays.copyOf(slots, Math.max(16, at * 2)); // eight headers, then twice as many each time
        }
        slots[at] = name;
        slots[at + 1] = value;
        size++;
    }

    /**
     * Adds a header that was checked as {@link #add} would check it: one of an HTTP/2 message's,
     * which Netty's decoder has validated with the same checks as it read the frame (every name a
     * lower-case token, every value free of CR, LF, NUL and other controls; Ward's codecs are built
     * with validation on, and {@code HttpPipelinesTest} sends a bad value over the wire to hold
     * Netty to it). Not checked again here: on the inbound path that was a second scan of every
     * name and value of every request.
     */
    void addValidated(CharSequence name, CharSequence value) {
        append(name, value);
    }

    /**
     * {@link #set} for a header this process made and knows to be valid (a {@code traceparent}
     * formatted from hex digits and dashes, {@link TraceHeaders#SETTER}; a {@link CheckedHeader},
     * checked when it was made): the first header of that
     * name takes it where it stands, any later ones go; a new name goes last. No checks, no shift.
     */
    void replaceValidated(CharSequence name, CharSequence value) {
        int i = indexOf(name, 0);
        if (i < 0) {
            append(name, value);
            return;
        }
        slots[(i << 1) + 1] = value;
        int next = indexOf(name, i + 1);
        if (next >= 0) {
            removeFrom(name, next);
        }
    }

    @Override
    public HttpHeaders add(String name, Object value) {
        return add((CharSequence) name, value);
    }

    @Override
    public HttpHeaders add(CharSequence name, Object value) {
        if (repeats != null && name instanceof AsciiString n && value instanceof String text) {
            AsciiString seen = repeats.find(n, text);
            if (seen != null) {
                append(n, seen); // name and text were checked when they were first kept
                return this;
            }
            validateName(n, false);
            validateValue(n, text);
            append(n, repeats.keep(n, text));
            return this;
        }
        validateName(name, trailers());
        append(name, toValue(name, value));
        return this;
    }

    /**
     * Room for {@code n} more headers at once, where the decoder knows how many come: the array is
     * made that size (not the usual eight headers) when the map is new, grown to it otherwise.
     */
    void room(int n) {
        int need = (size + n) << 1;
        if (need > slots.length) {
            slots = Arrays.copyOf(slots, need);
        }
    }

    /** Headers the array holds before it grows. */
    int capacity() {
        return slots.length >> 1;
    }

    /**
     * Its array of names and values (header {@code i}'s name at {@code 2i}, its value at
     * {@code 2i + 1}, {@link #size} headers), handed over: this map is empty afterwards. For a
     * response converted to HTTP/2 in place ({@link HeadsToHttp2}).
     */
    CharSequence[] handOverSlots() {
        CharSequence[] s = slots;
        slots = NONE;
        size = 0;
        return s;
    }

    /**
     * A header of a head that {@link PlainHead}'s scan read and checked (a name of token
     * characters; a value of visible characters, spaces and tabs, trimmed: stricter than this map's
     * own check, so it is not made again): a value that repeats the connection's kept one
     * ({@link Repeats}) is added as that object; any other as one copy of its bytes, not a string
     * (the encoders copy such a value in one piece, and a bearer token is read where it lies,
     * {@code InboundRouter}; until stop 47 a string, which the token's check copied to bytes again).
     */
    void addDecoded(AsciiString name, byte[] bytes, int start, int length) {
        AsciiString seen = repeats == null ? null : repeats.find(name, bytes, start, length);
        if (seen != null) {
            append(name, seen);
            return;
        }
        AsciiString value = new AsciiString(bytes, start, length, true);
        append(name, repeats != null ? repeats.keep(name, value) : value);
    }

    @Override
    public HttpHeaders add(String name, Iterable<?> values) {
        return add((CharSequence) name, values);
    }

    @Override
    public HttpHeaders add(CharSequence name, Iterable<?> values) {
        validateName(name, trailers());
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
        validateName(name, trailers());
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
        validateName(name, trailers());
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
        if (i >= 0) {
            removeFrom(name, i);
        }
        return this;
    }

    /** Removes every header of {@code name} from header {@code first} (one of them) on, keeping the others in order. */
    private void removeFrom(CharSequence name, int first) {
        CharSequence[] s = slots;
        int kept = first;
        for (int j = first + 1; j < size; j++) {
            if (!sameName(s[j << 1], name)) {
                s[kept << 1] = s[j << 1];
                s[(kept << 1) + 1] = s[(j << 1) + 1];
                kept++;
            }
        }
        Arrays.fill(s, kept << 1, size << 1, null);
        size = kept;
    }

    /**
     * Removes every header whose name is in {@code names}, keeping the others in order: what
     * {@link #remove} does for each of the names, in one pass over the headers rather than one
     * pass per name.
     */
    void removeAll(NameTable names) {
        CharSequence[] s = slots;
        int kept = 0;
        for (int i = 0, n = size; i < n; i++) {
            CharSequence name = s[i << 1];
            if (!names.contains(name)) {
                s[kept << 1] = name;
                s[(kept << 1) + 1] = s[(i << 1) + 1];
                kept++;
            }
        }
        Arrays.fill(s, kept << 1, size << 1, null);
        size = kept;
    }

    @Override
    public HttpHeaders clear() {
        Arrays.fill(slots, 0, size << 1, null);
        size = 0;
        return this;
    }

    @Override
    public HttpHeaders copy() {
        CompactHttpHeaders copy = trailers() ? new Trailers() : new CompactHttpHeaders();
        if (size > 0) {
            copy.slots = Arrays.copyOf(slots, slots.length);
            copy.size = size;
        }
        return copy;
    }

    private static final class Factory implements HttpHeadersFactory {
        private final boolean trailers;
        private final Repeats repeats;

        Factory(boolean trailers) {
            this.trailers = trailers;
            this.repeats = null;
        }

        Factory(Repeats repeats) {
            this.trailers = false;
            this.repeats = repeats;
        }

        @Override
        public HttpHeaders newHeaders() {
            return repeats != null ? new CompactHttpHeaders(repeats) : newEmptyHeaders();
        }

        @Override
        public HttpHeaders newEmptyHeaders() {
            return trailers ? new Trailers() : new CompactHttpHeaders();
        }
    }
}
