package dev.ward.proxy.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.DefaultHttp2FrameReader;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameListener;
import io.netty.handler.codec.http2.Http2FrameReader;
import io.netty.handler.codec.http2.Http2FrameTypes;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersDecoder;

/**
 * Netty's HTTP/2 frame reader, with the frames every request and response is made of read
 * without its machinery: a HEADERS frame that holds a whole head (END_HEADERS set), with no
 * padding and no priority, is decoded straight from the connection's buffer, and a DATA frame
 * without padding is handed on as a slice of it ({@link #readData}). Every other frame, and any
 * frame while a head is being continued, is Netty's reader's, given to it whole.
 *
 * <p>For each HEADERS frame Netty's reader makes a flags object, a slice of the payload, a
 * continuation object and a header-block builder, and a retained slice of the block for the
 * builder: about 150 B of each HTTP/2 request on either sidecar ({@code PipelineBenchmark}
 * {@code h2conn}, async-profiler {@code alloc}), before the header block is decoded at all. Here
 * the block is decoded in place: the buffer's writer index is held at the frame's end while the
 * HPACK decoder reads it, so the decoder reads exactly the block, and the frame is consumed
 * whether or not it decodes, as Netty's reader consumes it. The checks are Netty's: a frame
 * longer than the maximum frame size, or a block longer than the header list size at which the
 * connection is ended, goes to Netty's reader, which refuses it; the decoder's own checks (HPACK,
 * names, values, list size) are the same decoder's, since both paths share it and its dynamic
 * table, frame by frame in the order they came. After an error that ends the connection, what
 * follows is skipped, as Netty's reader skips it.
 *
 * <p>This reader waits until a frame is whole before it reads it (Netty's reads a frame's
 * nine-byte header as soon as it is there, and waits for the payload); the connection's buffer
 * holds the same bytes either way, and frames reach the listener at the same moments.
 */
final class WholeHeadsFrameReader implements Http2FrameReader {

    private static final int END_STREAM = 0x1;
    private static final int END_HEADERS = 0x4;
    private static final int PADDED = 0x8;
    /** PADDED, PRIORITY: left to Netty's reader. */
    private static final int PADDED_OR_PRIORITY = PADDED | 0x20;

    private final Http2HeadersDecoder headersDecoder;
    private final DefaultHttp2FrameReader netty;
    /** Netty's reader is in the middle of a head (a HEADERS or PUSH_PROMISE frame without END_HEADERS): every frame is its own until the block ends. */
    private boolean continuing;
    private boolean readError;

    WholeHeadsFrameReader(Http2HeadersDecoder headersDecoder) {
        this(headersDecoder, new DefaultHttp2FrameReader(headersDecoder));
    }

    /** With {@code netty} reading the other frames (made on the same {@code headersDecoder}); for tests. */
    WholeHeadsFrameReader(Http2HeadersDecoder headersDecoder, DefaultHttp2FrameReader netty) {
        this.headersDecoder = headersDecoder;
        this.netty = netty;
    }

    @Override
    public void readFrame(ChannelHandlerContext ctx, ByteBuf input, Http2FrameListener listener) throws Http2Exception {
        if (readError) {
            input.skipBytes(input.readableBytes());
            return;
        }
        try {
            while (input.readableBytes() >= Http2CodecUtil.FRAME_HEADER_LENGTH) {
                int start = input.readerIndex();
                int length = input.getUnsignedMedium(start);
                if (length > netty.maxFrameSize()) {
                    netty.readFrame(ctx, input, listener); // refuses it (FRAME_SIZE_ERROR)
                    return;
                }
                int end = start + Http2CodecUtil.FRAME_HEADER_LENGTH + length;
                if (input.writerIndex() < end) {
                    return; // wait for the rest of the frame
                }
                byte type = input.getByte(start + 3);
                int flags = input.getUnsignedByte(start + 4);
                int streamId = input.getInt(start + 5) & 0x7FFFFFFF;
                if (!continuing && type == Http2FrameTypes.HEADERS && (flags & (END_HEADERS | PADDED_OR_PRIORITY)) == END_HEADERS
                        && streamId != 0 && length <= headersDecoder.configuration().maxHeaderListSizeGoAway()) {
                    readWholeHead(ctx, input, start + Http2CodecUtil.FRAME_HEADER_LENGTH, end, streamId,
                            (flags & END_STREAM) != 0, listener);
                } else if (!continuing && type == Http2FrameTypes.DATA && (flags & PADDED) == 0 && streamId != 0) {
                    readData(ctx, input, start + Http2CodecUtil.FRAME_HEADER_LENGTH, end, streamId, (flags & END_STREAM) != 0,
                            listener);
                } else {
                    if (type == Http2FrameTypes.HEADERS || type == Http2FrameTypes.PUSH_PROMISE) {
                        continuing = (flags & END_HEADERS) == 0;
                    } else if (type == Http2FrameTypes.CONTINUATION && (flags & END_HEADERS) != 0) {
                        continuing = false;
                    }
                    readOneFrame(ctx, input, end, listener);
                }
            }
        } catch (Http2Exception e) {
            readError = !Http2Exception.isStreamError(e);
            throw e;
        } catch (RuntimeException | Error e) {
            readError = true;
            throw e;
        }
    }

    /** The block between {@code from} and {@code end}, decoded in place; the frame is consumed whatever happens. */
    private void readWholeHead(ChannelHandlerContext ctx, ByteBuf input, int from, int end, int streamId, boolean endStream,
            Http2FrameListener listener) throws Http2Exception {
        int writerIndex = input.writerIndex();
        Http2Headers headers;
        try {
            input.readerIndex(from);
            input.writerIndex(end);
            headers = headersDecoder.decodeHeaders(streamId, input);
        } finally {
            input.writerIndex(writerIndex);
            input.readerIndex(end);
        }
        listener.onHeadersRead(ctx, streamId, headers, 0, endStream);
    }

    /**
     * A DATA frame without padding: its payload handed on as a retained slice of the connection's
     * buffer, released once the listener has it (a pooled buffer's retained slice is a recycled
     * object; Netty's reader makes a flags object and a new slice object for every DATA frame).
     */
    private void readData(ChannelHandlerContext ctx, ByteBuf input, int from, int end, int streamId, boolean endStream,
            Http2FrameListener listener) throws Http2Exception {
        ByteBuf data = input.retainedSlice(from, end - from);
        input.readerIndex(end);
        try {
            listener.onDataRead(ctx, streamId, data, 0, endStream);
        } finally {
            data.release();
        }
    }

    /** Netty's reader, given exactly the frame that ends at {@code end}. */
    private void readOneFrame(ChannelHandlerContext ctx, ByteBuf input, int end, Http2FrameListener listener) throws Http2Exception {
        int writerIndex = input.writerIndex();
        try {
            input.writerIndex(end);
            netty.readFrame(ctx, input, listener);
        } finally {
            input.writerIndex(writerIndex);
        }
    }

    @Override
    public Configuration configuration() {
        return netty.configuration();
    }

    @Override
    public void close() {
        netty.close();
    }
}
