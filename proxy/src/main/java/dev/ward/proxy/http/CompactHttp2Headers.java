package dev.ward.proxy.http;

import io.netty.handler.codec.Headers;
import io.netty.handler.codec.http.HttpHeaderValidationUtil;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Set;

/**
 * The HTTP/2 header map of the heads Ward sends ({@link HeadsToHttp2}: a request to the next
 * sidecar, a response to the caller's): the pseudo-headers, then the headers, in one array that
 * the HPACK encoder reads in order. Netty's {@code DefaultHttp2Headers} is a hash table with a
 * sentinel entry and a six-field entry per header, each name hashed as it is added (about 350 B
 * for a request of five headers); this map is one array, a name and its value side by side in it.
 * Built once, read once by the encoder, then dropped.
 *
 * <p>Also the map HPACK decodes a received head into ({@link #validating}, see
 * {@link HttpPipelines#h2Codec}), in place of a {@code DefaultHttp2Headers} with validation on,
 * whose checks it makes as each header is added: a name is a lower-case token or one of the five
 * pseudo-headers, a pseudo-header is not repeated or empty, and a value holds no CR, LF, NUL or
 * other control (RFC 9113 8.2.1, 8.3). HPACK's decoder turns a refusal into a reset of the stream.
 *
 * <p>Otherwise semantics are {@code new DefaultHttp2Headers(false, false, n)}'s, the map it replaces: no
 * validation (what fills it was validated as it was read, see {@link HeadsToHttp2}), names
 * compared case-sensitively (HTTP/2 names are lower case), values as given, pseudo-headers kept
 * before the others however they are added, {@link #get} the first value added, iteration in
 * order. The common operations (add, set, remove, get, contains, iteration, the pseudo-headers)
 * work on the array; any other operation first moves the headers into a
 * {@code DefaultHttp2Headers}, and from then on the map is that one ({@link #full}), so every
 * other answer is Netty's own.
 *
 * <p>One difference, as in {@link CompactHttpHeaders}: the entry {@link #iterator} hands out is a
 * view of the header under the iterator, which moves on with {@code next()}. Read an entry before
 * asking for the next one, as Netty's encoder does.
 */
final class CompactHttp2Headers implements Http2Headers {

    private static final CharSequence[] NONE = new CharSequence[0];

    /** Header {@code i}'s name at {@code 2i}, its value at {@code 2i + 1}: pseudo-headers first. */
    private CharSequence[] slots;
    /** Headers, not slots. */
    private int size;
    /** How many of the first headers are pseudo-headers. */
    private int pseudo;
    /** The map once an operation this class leaves to Netty was asked for; null until then. */
    private DefaultHttp2Headers full;

    /** Whether each header is checked as it is added or set, as Netty's validating map checks it. */
    private final boolean validate;

    /** Room for {@code capacity} headers before the array grows; nothing added is checked. */
    CompactHttp2Headers(int capacity) {
        this(capacity, false);
    }

    private CompactHttp2Headers(int capacity, boolean validate) {
        slots = capacity > 0 ? new CharSequence[capacity << 1] : NONE;
        this.validate = validate;
    }

    /**
     * A map of the first {@code size} headers on {@code slots} (header {@code i}'s name at
     * {@code 2i}, its value at {@code 2i + 1}), the first {@code pseudo} of them pseudo-headers,
     * which it takes; nothing added is checked. For a response converted in place ({@link HeadsToHttp2}).
     */
    CompactHttp2Headers(CharSequence[] slots, int size, int pseudo) {
        this.slots = slots;
        this.size = size;
        this.pseudo = pseudo;
        this.validate = false;
    }

    /** A map that checks each header added or set (see the class comment), with room for {@code capacity}. */
    static CompactHttp2Headers validating(int capacity) {
        return new CompactHttp2Headers(capacity, true);
    }

    /**
     * Refuses what {@code new DefaultHttp2Headers(true, true, n)} refuses, with its messages: an
     * empty name, an unknown pseudo-header, a pseudo-header {@code added} twice or with an empty
     * value, a name that is not a lower-case token, a value with a control other than HTAB.
     */
    private void check(CharSequence name, CharSequence value, boolean added) {
        if (name.length() == 0) {
            throw new IllegalArgumentException("empty headers are not allowed [" + name + "]");
        }
        boolean pseudoHeader = isPseudo(name);
        if (pseudoHeader) {
            if (!PseudoHeaderName.isPseudoHeader(name)) {
                throw new IllegalArgumentException("Invalid HTTP/2 pseudo-header '" + name + "' encountered.");
            }
            if (added && indexOf(name, 0) >= 0) {
                throw new IllegalArgumentException("Duplicate HTTP/2 pseudo-header '" + name + "' encountered.");
            }
        } else if (HttpHeaderValidationUtil.validateToken(name) != -1 || hasUpperCase(name)) {
            throw new IllegalArgumentException("invalid header name [" + name + "]");
        }
        String bad = CompactHttpHeaders.invalidValue(value);
        if (bad != null) {
            throw new IllegalArgumentException(bad);
        }
        if (pseudoHeader && value.length() == 0) {
            throw new IllegalArgumentException("HTTP/2 pseudo-header '" + name + "' must not be empty.");
        }
    }

    private static boolean hasUpperCase(CharSequence name) {
        for (int i = 0; i < name.length(); i++) {
            if (AsciiString.isUpperCase(name.charAt(i))) {
                return true;
            }
        }
        return false;
    }

    /** The headers as Netty's map, which from now on is this map's state. */
    private DefaultHttp2Headers full() {
        if (full == null) {
            DefaultHttp2Headers h = new DefaultHttp2Headers(validate, validate, Math.max(size, 1));
            for (int i = 0; i < size; i++) {
                h.add(slots[i << 1], slots[(i << 1) + 1]);
            }
            full = h;
            slots = null;
            size = 0;
            pseudo = 0;
        }
        return full;
    }

    private static boolean isPseudo(CharSequence name) {
        return Http2Headers.PseudoHeaderName.hasPseudoHeaderFormat(name);
    }

    private int indexOf(CharSequence name, int from) {
        CharSequence[] s = slots;
        int len = name.length();
        for (int i = from, n = size; i < n; i++) {
            CharSequence k = s[i << 1];
            if (k == name || k.length() == len && AsciiString.contentEquals(k, name)) {
                return i;
            }
        }
        return -1;
    }

    /** Header {@code i}'s value, in order (pseudo-headers first); only while the array is the state ({@link #compactOf}). */
    CharSequence valueAt(int i) {
        return slots[(i << 1) + 1];
    }

    /** Header {@code i}'s name, as {@link #valueAt}. */
    CharSequence nameAt(int i) {
        return slots[i << 1];
    }

    /** How many of the first headers are pseudo-headers (of a map on its array: {@link #compactOf}). */
    int pseudoHeaders() {
        assert full == null;
        return pseudo;
    }

    /**
     * Its array of names and values (header {@code i}'s name at {@code 2i}, its value at
     * {@code 2i + 1}, {@link #size} headers), handed over: this map is empty afterwards. For a
     * decoded head converted to HTTP/1.1 in place ({@link HeadsToHttp2}); only of a map whose
     * headers are on its array, as {@link #compactOf} returns it.
     */
    CharSequence[] handOverSlots() {
        assert full == null;
        CharSequence[] s = slots;
        slots = NONE;
        size = 0;
        pseudo = 0;
        return s;
    }

    /**
     * {@code in} as a map whose headers {@link #nameAt} and {@link #valueAt} read by index, with
     * no iterator: {@code in} itself when it is one of these on its array, as a decoded head is;
     * otherwise a copy (unchecked, in its order, pseudo-headers first).
     */
    static CompactHttp2Headers compactOf(Http2Headers in) {
        if (in instanceof CompactHttp2Headers c && c.full == null) {
            return c;
        }
        CompactHttp2Headers copy = new CompactHttp2Headers(in.size());
        for (Map.Entry<CharSequence, CharSequence> e : in) {
            copy.insert(e.getKey(), e.getValue());
        }
        return copy;
    }

    private void insert(CharSequence name, CharSequence value) {
        boolean p = isPseudo(name);
        int at = p ? pseudo : size;
        if (size << 1 == slots.length) {
            slots = Arrays.copyOf(slots, Math.max(8, slots.length << 1));
        }
        if (at < size) {
            System.arraycopy(slots, at << 1, slots, (at + 1) << 1, (size - at) << 1);
        }
        slots[at << 1] = name;
        slots[(at << 1) + 1] = value;
        size++;
        if (p) {
            pseudo++;
        }
    }

    private void removeAt(int i) {
        if (i < pseudo) {
            pseudo--;
        }
        int tail = (size - i - 1) << 1;
        if (tail > 0) {
            System.arraycopy(slots, (i + 1) << 1, slots, i << 1, tail);
        }
        size--;
        slots[size << 1] = null;
        slots[(size << 1) + 1] = null;
    }

    private boolean removeAll(CharSequence name) {
        boolean removed = false;
        for (int i = indexOf(name, 0); i >= 0; i = indexOf(name, i)) {
            removeAt(i);
            removed = true;
        }
        return removed;
    }

    // ---- on the array while it is the state

    @Override
    public Http2Headers add(CharSequence name, CharSequence value) {
        if (full != null) {
            full.add(name, value);
            return this;
        }
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(value, "value");
        if (validate) {
            check(name, value, true);
        }
        insert(name, value);
        return this;
    }

    @Override
    public Http2Headers set(CharSequence name, CharSequence value) {
        if (full != null) {
            full.set(name, value);
            return this;
        }
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(value, "value");
        if (validate) {
            check(name, value, false);
        }
        removeAll(name);
        insert(name, value);
        return this;
    }

    @Override
    public Http2Headers setLong(CharSequence name, long value) {
        if (full == null) {
            int i = indexOf(Objects.requireNonNull(name, "name"), 0);
            if (i >= 0 && indexOf(name, i + 1) < 0 && isDecimal(valueAt(i), value)) {
                // The one value already reads as that number, written as String.valueOf would write
                // it: moved to the end as set would, but without a new String (Netty's HTTP/2 decoder
                // sets every received content-length to the number it parsed from it).
                CharSequence k = slots[i << 1];
                CharSequence v = valueAt(i);
                removeAt(i);
                insert(k, v);
                return this;
            }
        }
        return set(name, String.valueOf(value)); // as Netty's converter makes it
    }

    /** Whether {@code s} is {@code value} in decimal with no sign, leading zero or other character. */
    private static boolean isDecimal(CharSequence s, long value) {
        int n = s.length();
        if (value < 0 || n == 0 || n > 19 || n > 1 && s.charAt(0) == '0') {
            return false;
        }
        long v = 0;
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return false;
            }
            v = v * 10 + (c - '0');
        }
        return v == value;
    }

    @Override
    public boolean remove(CharSequence name) {
        if (full != null) {
            return full.remove(name);
        }
        return removeAll(Objects.requireNonNull(name, "name"));
    }

    @Override
    public CharSequence get(CharSequence name) {
        if (full != null) {
            return full.get(name);
        }
        int i = indexOf(Objects.requireNonNull(name, "name"), 0);
        return i < 0 ? null : valueAt(i);
    }

    @Override
    public List<CharSequence> getAll(CharSequence name) {
        if (full != null) {
            return full.getAll(name);
        }
        int i = indexOf(Objects.requireNonNull(name, "name"), 0);
        if (i < 0) {
            // Empty and read-only, with nothing allocated: Netty's HTTP/2 decoder asks every head for its
            // content-length this way, and most have none (it only reads the list).
            return java.util.Collections.emptyList();
        }
        int next = indexOf(name, i + 1);
        if (next < 0) {
            return java.util.Collections.singletonList(valueAt(i)); // the usual case (content-length), in one small object
        }
        List<CharSequence> all = new ArrayList<>(2);
        for (; i >= 0; i = indexOf(name, i + 1)) {
            all.add(valueAt(i));
        }
        return all;
    }

    @Override
    public boolean contains(CharSequence name) {
        if (full != null) {
            return full.contains(name);
        }
        return indexOf(Objects.requireNonNull(name, "name"), 0) >= 0;
    }

    @Override
    public boolean contains(CharSequence name, CharSequence value) {
        return contains(name, value, false);
    }

    @Override
    public boolean contains(CharSequence name, CharSequence value, boolean caseInsensitive) {
        if (full != null) {
            return full.contains(name, value, caseInsensitive);
        }
        Objects.requireNonNull(value, "value");
        for (int i = indexOf(Objects.requireNonNull(name, "name"), 0); i >= 0; i = indexOf(name, i + 1)) {
            CharSequence v = valueAt(i);
            if (caseInsensitive ? AsciiString.contentEqualsIgnoreCase(v, value) : AsciiString.contentEquals(v, value)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public int size() {
        return full != null ? full.size() : size;
    }

    @Override
    public boolean isEmpty() {
        return size() == 0;
    }

    /** An iterator that went to its end, handed out again: HPACK's encoder goes over a map twice (its size, then its bytes). */
    private Cursor spare;

    @Override
    public Iterator<Map.Entry<CharSequence, CharSequence>> iterator() {
        if (full != null) {
            return full.iterator();
        }
        Cursor c = spare;
        if (c == null) {
            return new Cursor();
        }
        spare = null;
        c.next = 0;
        c.at = -1;
        return c;
    }

    /**
     * The iterator, which is also the entry it hands out (see the class comment). Once it has
     * answered that there is no next header it is this map's {@link #spare}: whoever held it is done.
     */
    private final class Cursor implements Iterator<Map.Entry<CharSequence, CharSequence>>, Map.Entry<CharSequence, CharSequence> {
        private int next;
        private int at = -1;

        @Override
        public boolean hasNext() {
            if (full == null && next < size) {
                return true;
            }
            spare = this;
            return false;
        }

        @Override
        public Map.Entry<CharSequence, CharSequence> next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            at = next++;
            return this;
        }

        @Override
        public void remove() {
            throw new UnsupportedOperationException("read only"); // as Netty's
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
            Objects.requireNonNull(value, "value");
            if (validate) {
                check(getKey(), value, false);
            }
            CharSequence old = getValue();
            slots[(at << 1) + 1] = value;
            return old;
        }

        @Override
        public String toString() {
            return getKey() + "=" + getValue();
        }
    }

    @Override
    public CharSequence method() {
        return get(PseudoHeaderName.METHOD.value());
    }

    @Override
    public CharSequence scheme() {
        return get(PseudoHeaderName.SCHEME.value());
    }

    @Override
    public CharSequence authority() {
        return get(PseudoHeaderName.AUTHORITY.value());
    }

    @Override
    public CharSequence path() {
        return get(PseudoHeaderName.PATH.value());
    }

    @Override
    public CharSequence status() {
        return get(PseudoHeaderName.STATUS.value());
    }

    @Override
    public Http2Headers method(CharSequence value) {
        return set(PseudoHeaderName.METHOD.value(), value);
    }

    @Override
    public Http2Headers scheme(CharSequence value) {
        return set(PseudoHeaderName.SCHEME.value(), value);
    }

    @Override
    public Http2Headers authority(CharSequence value) {
        return set(PseudoHeaderName.AUTHORITY.value(), value);
    }

    @Override
    public Http2Headers path(CharSequence value) {
        return set(PseudoHeaderName.PATH.value(), value);
    }

    @Override
    public Http2Headers status(CharSequence value) {
        return set(PseudoHeaderName.STATUS.value(), value);
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder(getClass().getSimpleName()).append('[');
        String sep = "";
        for (Map.Entry<CharSequence, CharSequence> e : this) {
            b.append(sep).append(e.getKey()).append(": ").append(e.getValue());
            sep = ", ";
        }
        return b.append(']').toString();
    }

    // ---- Netty's map for everything else

    @Override
    public boolean equals(Object o) {
        return o instanceof Http2Headers && full().equals(o == this ? full : o);
    }

    @Override
    public int hashCode() {
        return full().hashCode();
    }

    @Override
    public Iterator<CharSequence> valueIterator(CharSequence name) {
        return full().valueIterator(name);
    }

    @Override
    public CharSequence get(CharSequence name, CharSequence defaultValue) {
        CharSequence v = get(name);
        return v != null ? v : defaultValue;
    }

    @Override
    public CharSequence getAndRemove(CharSequence name) {
        return full().getAndRemove(name);
    }

    @Override
    public CharSequence getAndRemove(CharSequence name, CharSequence defaultValue) {
        return full().getAndRemove(name, defaultValue);
    }

    @Override
    public List<CharSequence> getAllAndRemove(CharSequence name) {
        return full().getAllAndRemove(name);
    }

    @Override
    public Boolean getBoolean(CharSequence name) {
        return full().getBoolean(name);
    }

    @Override
    public boolean getBoolean(CharSequence name, boolean defaultValue) {
        return full().getBoolean(name, defaultValue);
    }

    @Override
    public Byte getByte(CharSequence name) {
        return full().getByte(name);
    }

    @Override
    public byte getByte(CharSequence name, byte defaultValue) {
        return full().getByte(name, defaultValue);
    }

    @Override
    public Character getChar(CharSequence name) {
        return full().getChar(name);
    }

    @Override
    public char getChar(CharSequence name, char defaultValue) {
        return full().getChar(name, defaultValue);
    }

    @Override
    public Short getShort(CharSequence name) {
        return full().getShort(name);
    }

    @Override
    public short getShort(CharSequence name, short defaultValue) {
        return full().getShort(name, defaultValue);
    }

    @Override
    public Integer getInt(CharSequence name) {
        return full().getInt(name);
    }

    @Override
    public int getInt(CharSequence name, int defaultValue) {
        return full().getInt(name, defaultValue);
    }

    @Override
    public Long getLong(CharSequence name) {
        return full().getLong(name);
    }

    @Override
    public long getLong(CharSequence name, long defaultValue) {
        return full().getLong(name, defaultValue);
    }

    @Override
    public Float getFloat(CharSequence name) {
        return full().getFloat(name);
    }

    @Override
    public float getFloat(CharSequence name, float defaultValue) {
        return full().getFloat(name, defaultValue);
    }

    @Override
    public Double getDouble(CharSequence name) {
        return full().getDouble(name);
    }

    @Override
    public double getDouble(CharSequence name, double defaultValue) {
        return full().getDouble(name, defaultValue);
    }

    @Override
    public Long getTimeMillis(CharSequence name) {
        return full().getTimeMillis(name);
    }

    @Override
    public long getTimeMillis(CharSequence name, long defaultValue) {
        return full().getTimeMillis(name, defaultValue);
    }

    @Override
    public Boolean getBooleanAndRemove(CharSequence name) {
        return full().getBooleanAndRemove(name);
    }

    @Override
    public boolean getBooleanAndRemove(CharSequence name, boolean defaultValue) {
        return full().getBooleanAndRemove(name, defaultValue);
    }

    @Override
    public Byte getByteAndRemove(CharSequence name) {
        return full().getByteAndRemove(name);
    }

    @Override
    public byte getByteAndRemove(CharSequence name, byte defaultValue) {
        return full().getByteAndRemove(name, defaultValue);
    }

    @Override
    public Character getCharAndRemove(CharSequence name) {
        return full().getCharAndRemove(name);
    }

    @Override
    public char getCharAndRemove(CharSequence name, char defaultValue) {
        return full().getCharAndRemove(name, defaultValue);
    }

    @Override
    public Short getShortAndRemove(CharSequence name) {
        return full().getShortAndRemove(name);
    }

    @Override
    public short getShortAndRemove(CharSequence name, short defaultValue) {
        return full().getShortAndRemove(name, defaultValue);
    }

    @Override
    public Integer getIntAndRemove(CharSequence name) {
        return full().getIntAndRemove(name);
    }

    @Override
    public int getIntAndRemove(CharSequence name, int defaultValue) {
        return full().getIntAndRemove(name, defaultValue);
    }

    @Override
    public Long getLongAndRemove(CharSequence name) {
        return full().getLongAndRemove(name);
    }

    @Override
    public long getLongAndRemove(CharSequence name, long defaultValue) {
        return full().getLongAndRemove(name, defaultValue);
    }

    @Override
    public Float getFloatAndRemove(CharSequence name) {
        return full().getFloatAndRemove(name);
    }

    @Override
    public float getFloatAndRemove(CharSequence name, float defaultValue) {
        return full().getFloatAndRemove(name, defaultValue);
    }

    @Override
    public Double getDoubleAndRemove(CharSequence name) {
        return full().getDoubleAndRemove(name);
    }

    @Override
    public double getDoubleAndRemove(CharSequence name, double defaultValue) {
        return full().getDoubleAndRemove(name, defaultValue);
    }

    @Override
    public Long getTimeMillisAndRemove(CharSequence name) {
        return full().getTimeMillisAndRemove(name);
    }

    @Override
    public long getTimeMillisAndRemove(CharSequence name, long defaultValue) {
        return full().getTimeMillisAndRemove(name, defaultValue);
    }

    @Override
    public boolean containsObject(CharSequence name, Object value) {
        return full().containsObject(name, value);
    }

    @Override
    public boolean containsBoolean(CharSequence name, boolean value) {
        return full().containsBoolean(name, value);
    }

    @Override
    public boolean containsByte(CharSequence name, byte value) {
        return full().containsByte(name, value);
    }

    @Override
    public boolean containsChar(CharSequence name, char value) {
        return full().containsChar(name, value);
    }

    @Override
    public boolean containsShort(CharSequence name, short value) {
        return full().containsShort(name, value);
    }

    @Override
    public boolean containsInt(CharSequence name, int value) {
        return full().containsInt(name, value);
    }

    @Override
    public boolean containsLong(CharSequence name, long value) {
        return full().containsLong(name, value);
    }

    @Override
    public boolean containsFloat(CharSequence name, float value) {
        return full().containsFloat(name, value);
    }

    @Override
    public boolean containsDouble(CharSequence name, double value) {
        return full().containsDouble(name, value);
    }

    @Override
    public boolean containsTimeMillis(CharSequence name, long value) {
        return full().containsTimeMillis(name, value);
    }

    @Override
    public Set<CharSequence> names() {
        return full().names();
    }

    @Override
    public Http2Headers add(CharSequence name, Iterable<? extends CharSequence> values) {
        full().add(name, values);
        return this;
    }

    @Override
    public Http2Headers add(CharSequence name, CharSequence... values) {
        full().add(name, values);
        return this;
    }

    @Override
    public Http2Headers addObject(CharSequence name, Object value) {
        full().addObject(name, value);
        return this;
    }

    @Override
    public Http2Headers addObject(CharSequence name, Iterable<?> values) {
        full().addObject(name, values);
        return this;
    }

    @Override
    public Http2Headers addObject(CharSequence name, Object... values) {
        full().addObject(name, values);
        return this;
    }

    @Override
    public Http2Headers addBoolean(CharSequence name, boolean value) {
        full().addBoolean(name, value);
        return this;
    }

    @Override
    public Http2Headers addByte(CharSequence name, byte value) {
        full().addByte(name, value);
        return this;
    }

    @Override
    public Http2Headers addChar(CharSequence name, char value) {
        full().addChar(name, value);
        return this;
    }

    @Override
    public Http2Headers addShort(CharSequence name, short value) {
        full().addShort(name, value);
        return this;
    }

    @Override
    public Http2Headers addInt(CharSequence name, int value) {
        full().addInt(name, value);
        return this;
    }

    @Override
    public Http2Headers addLong(CharSequence name, long value) {
        full().addLong(name, value);
        return this;
    }

    @Override
    public Http2Headers addFloat(CharSequence name, float value) {
        full().addFloat(name, value);
        return this;
    }

    @Override
    public Http2Headers addDouble(CharSequence name, double value) {
        full().addDouble(name, value);
        return this;
    }

    @Override
    public Http2Headers addTimeMillis(CharSequence name, long value) {
        full().addTimeMillis(name, value);
        return this;
    }

    @Override
    public Http2Headers add(Headers<? extends CharSequence, ? extends CharSequence, ?> headers) {
        if (headers == this) {
            throw new IllegalArgumentException("can't add to itself.");
        }
        full().add(headers);
        return this;
    }

    @Override
    public Http2Headers set(CharSequence name, Iterable<? extends CharSequence> values) {
        full().set(name, values);
        return this;
    }

    @Override
    public Http2Headers set(CharSequence name, CharSequence... values) {
        full().set(name, values);
        return this;
    }

    @Override
    public Http2Headers setObject(CharSequence name, Object value) {
        full().setObject(name, value);
        return this;
    }

    @Override
    public Http2Headers setObject(CharSequence name, Iterable<?> values) {
        full().setObject(name, values);
        return this;
    }

    @Override
    public Http2Headers setObject(CharSequence name, Object... values) {
        full().setObject(name, values);
        return this;
    }

    @Override
    public Http2Headers setBoolean(CharSequence name, boolean value) {
        full().setBoolean(name, value);
        return this;
    }

    @Override
    public Http2Headers setByte(CharSequence name, byte value) {
        full().setByte(name, value);
        return this;
    }

    @Override
    public Http2Headers setChar(CharSequence name, char value) {
        full().setChar(name, value);
        return this;
    }

    @Override
    public Http2Headers setShort(CharSequence name, short value) {
        full().setShort(name, value);
        return this;
    }

    @Override
    public Http2Headers setInt(CharSequence name, int value) {
        full().setInt(name, value);
        return this;
    }

    @Override
    public Http2Headers setFloat(CharSequence name, float value) {
        full().setFloat(name, value);
        return this;
    }

    @Override
    public Http2Headers setDouble(CharSequence name, double value) {
        full().setDouble(name, value);
        return this;
    }

    @Override
    public Http2Headers setTimeMillis(CharSequence name, long value) {
        full().setTimeMillis(name, value);
        return this;
    }

    @Override
    public Http2Headers set(Headers<? extends CharSequence, ? extends CharSequence, ?> headers) {
        full().set(headers == this ? full : headers); // itself: a no-op, as Netty's
        return this;
    }

    @Override
    public Http2Headers setAll(Headers<? extends CharSequence, ? extends CharSequence, ?> headers) {
        full().setAll(headers == this ? full : headers); // itself: a no-op, as Netty's
        return this;
    }


    @Override
    public Http2Headers clear() {
        full().clear();
        return this;
    }
}
