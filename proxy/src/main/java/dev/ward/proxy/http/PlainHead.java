package dev.ward.proxy.http;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.DecoderResultProvider;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeadersFactory;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * A plain HTTP/1.1 head, read by Ward's HTTP/1.1 decoders ({@link Http1ClientCodec},
 * {@link Http1ServerCodec}) straight into the header map, so that a header value that repeats
 * the connection's kept one costs no string (Netty's decoder makes a string of every value before
 * the map sees it: an nginx response's 8 headers, about 480 B). Found without making any object:
 * <ul>
 * <li>a response's status line: {@code HTTP/1.1}, a status Netty has a constant for (200-599, not
 * 204 or 304) and that constant's reason phrase; a request's line: a method Netty has a constant
 * for (not {@code CONNECT}), a target of visible ASCII, {@code HTTP/1.1};
 * <li>header lines of a token, a colon and a value of visible ASCII, spaces and tabs;
 * <li>every line ended by CRLF; at most one {@code Content-Length}, of plain digits, and no
 * {@code Transfer-Encoding} (a response needs the length: without one its body runs to the close);
 * <li>the whole head in one read, within {@link #MAX} bytes and the decoder's limits.
 * </ul>
 * That is the head almost every app and client sends, and each such head means the same to
 * Netty's decoder, which reads every other (chunked bodies, folded or bare-LF lines, interim
 * responses, odd status or request lines, bad bytes, heads split across reads) and whose errors
 * stay its own: once it takes a message it reads on until that message ends, and after a failure
 * or a protocol switch it reads everything. {@code PlainHeadDifferentialTest} holds the two to the
 * same output. One per decoder, on its event loop.
 */
final class PlainHead {
    /** Heads longer than this are left to Netty's decoder. */
    static final int MAX = 1024;
    /** {@code HTTP/1.1 200 OK} (or {@code GET / HTTP/1.1}) and an empty line. */
    static final int SHORTEST = 19;

    private static final String VERSION = "HTTP/1.1";
    /** Netty's status constants by code, where its {@code valueOf} gives a constant; null elsewhere. */
    private static final HttpResponseStatus[] STATUS = new HttpResponseStatus[600];
    /** The methods read here: Netty's constants but {@code CONNECT} (whose target is an authority). */
    private static final HttpMethod[] METHODS = {HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT, HttpMethod.DELETE,
        HttpMethod.HEAD, HttpMethod.OPTIONS, HttpMethod.PATCH, HttpMethod.TRACE};
    /** RFC 9110 5.6.2 {@code tchar}. */
    private static final boolean[] TCHAR = new boolean[256];

    static {
        for (int c = 200; c < 600; c++) {
            HttpResponseStatus s = HttpResponseStatus.valueOf(c);
            if (s == HttpResponseStatus.valueOf(c) && c != 204 && c != 304) {
                STATUS[c] = s;
            }
        }
        for (char c = '0'; c <= '9'; c++) {
            TCHAR[c] = true;
        }
        for (char c = 'a'; c <= 'z'; c++) {
            TCHAR[c] = true;
            TCHAR[c - 'a' + 'A'] = true;
        }
        for (char c : "!#$%&'*+-.^_`|~".toCharArray()) {
            TCHAR[c] = true;
        }
    }

    /** The longest head read here (0: none is). */
    private final int max;
    /** The head looked at, copied out of the input (which is usually a direct buffer); made at first use. */
    private byte[] b;
    /** Netty's decoder is between messages, so the next head may be read here. */
    private boolean nettyAtRest = true;
    /** Netty's decoder failed a message or switched protocols: all that follows is its. */
    private boolean nettyOnly;
    /** Body bytes still to come of a message whose head was read here. */
    private long bodyLeft;
    /** Heads read here (for tests). */
    long heads;

    // The head found by the last scan:
    /** Its length, the final empty line included. */
    private int length;
    /** Its header lines. */
    private int fields;
    /** Header {@code i}'s name as the decoders' shared constant ({@link HeadsToHttp2#knownName}), or null: another name. */
    private AsciiString[] known = new AsciiString[8];
    /** Header {@code i}'s name start and length, value start and end (trimmed) at {@code 4i..4i+3}. */
    private int[] spans = new int[32];
    private long contentLength;
    HttpResponseStatus status;
    HttpMethod method;
    private int targetStart;
    private int targetEnd;

    /** {@code max}: the longest head to read (capped at {@link #MAX}); 0 leaves every head to Netty's decoder. */
    PlainHead(int max) {
        this.max = Math.min(max, MAX);
    }

    /** Whether the next input may start a head read here (and not the rest of a body read here). */
    boolean mayRead() {
        return max > 0 && nettyAtRest && !nettyOnly;
    }

    /** Netty's decoder was given the input and added {@code out[from..]}: it reads until its message ends. */
    void nettyRead(List<Object> out, int from) {
        nettyAtRest = false;
        for (int i = from; i < out.size(); i++) {
            Object o = out.get(i);
            if (o instanceof DecoderResultProvider p && p.decoderResult().isFailure()
                    || o instanceof HttpResponse r && r.status().code() == HttpResponseStatus.SWITCHING_PROTOCOLS.code()) {
                nettyOnly = true;
            }
            if (o instanceof LastHttpContent) {
                nettyAtRest = true;
            }
        }
    }

    /** Whether a body read here is under way. */
    boolean inBody() {
        return bodyLeft > 0;
    }

    /** Copies what there is of a head at the start of {@code in}; false if it cannot be one. */
    private int copy(ByteBuf in) {
        int n = Math.min(in.readableBytes(), max);
        if (n < SHORTEST) {
            return -1;
        }
        if (b == null) {
            b = new byte[max];
        }
        in.getBytes(in.readerIndex(), b, 0, n);
        return n;
    }

    /** Whether {@code in} starts with a plain response head, whole; if so, this describes it. */
    boolean scanResponse(ByteBuf in) {
        int n = copy(in);
        if (n < 0 || !matches(b, 0, VERSION) || b[8] != ' ') {
            return false;
        }
        int code = digit(b[9]) * 100 + digit(b[10]) * 10 + digit(b[11]);
        if (code < 200 || code >= 600 || b[12] != ' ' || STATUS[code] == null) {
            return false;
        }
        HttpResponseStatus s = STATUS[code];
        String reason = s.reasonPhrase();
        int p = 13;
        if (p + reason.length() + 2 > n) {
            return false;
        }
        if (!matches(b, p, reason)) {
            return false;
        }
        p += reason.length();
        if (b[p] != '\r' || b[p + 1] != '\n' || !scanHeaders(p + 2, n) || contentLength < 0) {
            return false;
        }
        status = s;
        return true;
    }

    /** Whether {@code in} starts with a plain request head, whole; if so, this describes it. */
    boolean scanRequest(ByteBuf in) {
        int n = copy(in);
        if (n < 0) {
            return false;
        }
        HttpMethod m = null;
        int p = 0;
        for (HttpMethod candidate : METHODS) {
            String name = candidate.name();
            if (name.length() + 1 < n && matches(b, 0, name) && b[name.length()] == ' ') {
                m = candidate;
                p = name.length() + 1;
                break;
            }
        }
        if (m == null) {
            return false;
        }
        int start = p;
        while (p < n && b[p] > ' ' && b[p] < 0x7f) {
            p++;
        }
        int end = p;
        if (end == start || p + VERSION.length() + 3 > n || b[p] != ' ' || !matches(b, p + 1, VERSION)) {
            return false;
        }
        p += 1 + VERSION.length();
        if (b[p] != '\r' || b[p + 1] != '\n' || !scanHeaders(p + 2, n)) {
            return false;
        }
        method = m;
        targetStart = start;
        targetEnd = end;
        if (contentLength < 0) {
            contentLength = 0; // a request without a length has no body (RFC 9112 6.3)
        }
        return true;
    }

    /** The request target found by {@link #scanRequest}. */
    String target() {
        return new String(b, targetStart, targetEnd - targetStart, StandardCharsets.ISO_8859_1);
    }

    /**
     * The headers found by the last scan, added to {@code headers} (a decoding map, see
     * {@link CompactHttpHeaders#addDecoded}), which gets room for them and {@code spare} more:
     * what the proxy adds to the message before it goes on (a request's {@code traceparent}, or
     * the caller's identity headers) would otherwise grow the array, a copy of it all.
     */
    void addHeaders(CompactHttpHeaders headers, int spare) {
        headers.room(fields + spare);
        for (int i = 0, at = 0; i < fields; i++, at += 4) {
            AsciiString name = known[i] != null ? known[i] : new AsciiString(b, spans[at], spans[at + 1], true);
            headers.addDecoded(name, b, spans[at + 2], spans[at + 3] - spans[at + 2]);
        }
        CompactHttpHeaders.headDecoded(headers);
    }

    /**
     * The head found by the last scan, made into {@code message}, is read: it goes out, then its
     * body as far as {@code in} holds it (in pieces as Netty's decoder cuts them), or the end of
     * a message without one.
     */
    void read(ByteBuf in, HttpMessage message, List<Object> out, int maxChunkSize, HttpHeadersFactory trailers) {
        in.skipBytes(length);
        heads++;
        out.add(message);
        if (contentLength == 0) {
            out.add(LastHttpContent.EMPTY_LAST_CONTENT);
        } else {
            bodyLeft = contentLength;
            readBody(in, out, maxChunkSize, trailers);
        }
    }

    /** A piece of the body of a message whose head was read here, as Netty's decoder would cut it. */
    void readBody(ByteBuf in, List<Object> out, int maxChunkSize, HttpHeadersFactory trailers) {
        int n = (int) Math.min(Math.min(in.readableBytes(), maxChunkSize), bodyLeft);
        if (n == 0) {
            return;
        }
        ByteBuf content = in.readRetainedSlice(n);
        bodyLeft -= n;
        out.add(bodyLeft == 0 ? new DefaultLastHttpContent(content, trailers) : new DefaultHttpContent(content));
    }

    /**
     * A body read here ends where it is, as Netty's decoder ends one: the connection closed (as
     * when a message ends before its {@code Content-Length}, nothing more comes; the proxy sees
     * the close), or an expectation failed (the client sends no body: what comes next is a head).
     */
    void endBody() {
        bodyLeft = 0;
    }

    /**
     * Headers a request's map has room for beyond its own: an outbound sidecar adds a
     * {@code traceparent} (tracing on), an inbound one the caller's two identity headers. One
     * growth of the array cost 80-130 B and a copy; the room costs 8 B a header.
     */
    static final int REQUEST_SPARE = 2;

    /**
     * Headers a response's map has room for beyond its own: one, the {@code :status} a response
     * going on as HTTP/2 puts before them (it is converted on this array, not copied: 63 B a
     * response in {@code PipelineBenchmark} {@code h2conn}, for 8 B on every response). Otherwise a
     * response goes on with the headers it came with, or fewer.
     */
    static final int RESPONSE_SPARE = 1;

    /**
     * Header lines from {@code p} to the empty line, within {@code b[0..n)}: whether all are plain
     * and whole, with at most one plain {@code Content-Length} and no {@code Transfer-Encoding}.
     * Sets {@link #fields}, {@link #known}, {@link #spans}, {@link #length} and
     * {@link #contentLength} (-1 if none).
     */
    private boolean scanHeaders(int p, int n) {
        int count = 0;
        long length = -1;
        for (;;) {
            if (p + 1 >= n) {
                return false; // not all here (or longer than the limit)
            }
            if (b[p] == '\r') {
                if (b[p + 1] != '\n') {
                    return false;
                }
                p += 2;
                break;
            }
            int nameStart = p;
            while (p < n && TCHAR[b[p] & 0xff]) {
                p++;
            }
            if (p == nameStart || p >= n || b[p] != ':') {
                return false;
            }
            int nameLength = p - nameStart;
            p++;
            int valueStart = -1;
            int valueEnd = -1;
            while (p < n) {
                if (p + 8 <= n && AsciiWords.visible(AsciiWords.word(b, p))) {
                    // Eight visible characters, as most of a value is: what the byte loop below would
                    // conclude of them, at once (a 600-byte bearer token took 0.4 µs a byte at a time).
                    if (valueStart < 0) {
                        valueStart = p;
                    }
                    p += 8;
                    valueEnd = p;
                    continue;
                }
                int c = b[p] & 0xff;
                if (c == '\r') {
                    break;
                }
                if (c > ' ' && c < 0x7f) {
                    if (valueStart < 0) {
                        valueStart = p;
                    }
                    valueEnd = p + 1;
                } else if (c != ' ' && c != '\t') {
                    return false;
                }
                p++;
            }
            if (p + 1 >= n || b[p + 1] != '\n') {
                return false;
            }
            if (valueStart < 0) {
                valueStart = valueEnd = p; // empty
            }
            p += 2;
            // The tables hold Netty's constants, so these two are found by identity.
            AsciiString name = HeadsToHttp2.knownName(b, nameStart, nameLength);
            if (name == HttpHeaderNames.TRANSFER_ENCODING) {
                return false;
            }
            if (name == HttpHeaderNames.CONTENT_LENGTH) {
                if (length >= 0) {
                    return false;
                }
                length = plainNumber(b, valueStart, valueEnd);
                if (length < 0) {
                    return false;
                }
            }
            if (count == known.length) {
                known = Arrays.copyOf(known, count * 2);
                spans = Arrays.copyOf(spans, count * 8);
            }
            known[count] = name;
            int at = count * 4;
            spans[at] = nameStart;
            spans[at + 1] = nameLength;
            spans[at + 2] = valueStart;
            spans[at + 3] = valueEnd;
            count++;
        }
        this.fields = count;
        this.length = p;
        this.contentLength = length;
        return true;
    }

    private static int digit(byte c) {
        return c >= '0' && c <= '9' ? c - '0' : -1000;
    }

    /** Digits without a leading zero (but "0"), at most 18 of them; -1 otherwise (Netty's decoder reads those). */
    private static long plainNumber(byte[] b, int start, int end) {
        int n = end - start;
        if (n > 18 || n > 1 && b[start] == '0') {
            return -1;
        }
        long v = 0;
        for (int i = start; i < end; i++) {
            int d = b[i] - '0';
            if (d < 0 || d > 9) {
                return -1;
            }
            v = v * 10 + d;
        }
        return v;
    }

    /** Whether {@code b} holds the ASCII text {@code ascii} at {@code at} (the caller knows there is room). */
    static boolean matches(byte[] b, int at, String ascii) {
        for (int i = 0; i < ascii.length(); i++) {
            if (b[at + i] != ascii.charAt(i)) {
                return false;
            }
        }
        return true;
    }
}
