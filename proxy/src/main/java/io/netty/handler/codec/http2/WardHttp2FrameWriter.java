package io.netty.handler.codec.http2;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.util.internal.PlatformDependent;

/**
 * Netty's frame writer, with a HEADERS frame and a small DATA frame each written as one buffer.
 *
 * <p>{@link DefaultHttp2FrameWriter} writes every HEADERS and DATA frame as two buffers, the
 * 9-byte frame header and the payload (the header block's slice, or the data's), each write with
 * its own promise, tied together by an aggregating promise made per frame. A sidecar writes two
 * or three such frames per request; the aggregators and slices were about a tenth of what an
 * HTTP/2 request allocated ({@code PipelineBenchmark} {@code h2conn}, async-profiler
 * {@code alloc}). Here:
 * <ul>
 * <li>a header block is HPACK-encoded into the buffer that holds its frame header (9 bytes left
 * free, then filled in); when it fits one frame, which it does unless the peer's largest frame is
 * smaller than the block, that buffer is the one write, with the caller's promise. A larger block
 * goes out as Netty would: the HEADERS frame, then CONTINUATION frames;
 * <li>a DATA frame of up to {@link #COPY_DATA_MAX} bytes is copied behind its frame header into
 * one buffer, and the caller's data released. Over TLS that copy is one the TLS handler would
 * make anyway (it joins small buffers before encrypting them); larger DATA frames, and any with
 * padding (Ward sends none), go to Netty's writer, which writes the data itself.
 * </ul>
 * The bytes on the wire are the same as Netty's ({@code WardHttp2FrameWriterTest} compares them).
 * It is in Netty's package for the promise aggregator, which is package-private, that the rare
 * HEADERS-and-CONTINUATIONs case needs.
 */
public final class WardHttp2FrameWriter extends DefaultHttp2FrameWriter {

    /** The largest DATA payload copied behind its frame header rather than written as a buffer of its own. */
    public static final int COPY_DATA_MAX = 1024;

    private final Http2HeadersEncoder headersEncoder;

    public WardHttp2FrameWriter(Http2HeadersEncoder.SensitivityDetector sensitive) {
        this(headersEncoder(sensitive));
    }

    /**
     * Netty's HPACK encoder with {@code sensitive} and its defaults, but no Huffman coding. Netty
     * Huffman-codes a literal of 512 characters or more: a bearer token, a large cookie. Coding and
     * decoding one of 600 bytes took several microseconds on each sidecar (the token variant of
     * {@code perf/e2e/compare.sh}: 0.69x the throughput with it, perf/README.md), to save about a
     * fifth of its bytes on a hop inside the cluster. Literals go as they are.
     */
    public static Http2HeadersEncoder headersEncoder(Http2HeadersEncoder.SensitivityDetector sensitive) {
        return new DefaultHttp2HeadersEncoder(sensitive, false, 64, Integer.MAX_VALUE);
    }

    private WardHttp2FrameWriter(Http2HeadersEncoder headersEncoder) {
        super(headersEncoder);
        this.headersEncoder = headersEncoder;
    }

    @Override
    public ChannelFuture writeData(ChannelHandlerContext ctx, int streamId, ByteBuf data, int padding,
            boolean endStream, ChannelPromise promise) {
        int length = data.readableBytes();
        if (padding != 0 || length > COPY_DATA_MAX || length > maxFrameSize() || streamId <= 0) {
            return super.writeData(ctx, streamId, data, padding, endStream, promise);
        }
        ByteBuf frame = null;
        try {
            frame = ctx.alloc().buffer(Http2CodecUtil.FRAME_HEADER_LENGTH + length);
            frame.writerIndex(Http2CodecUtil.FRAME_HEADER_LENGTH);
            setFrameHeader(frame, 0, length, Http2FrameTypes.DATA, endStream ? Http2Flags.END_STREAM : 0, streamId);
            frame.writeBytes(data, data.readerIndex(), length);
        } catch (Throwable t) {
            if (frame != null) {
                frame.release();
            }
            return promise.setFailure(t);
        } finally {
            data.release();
        }
        return ctx.write(frame, promise);
    }

    @Override
    public ChannelFuture writeHeaders(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int padding,
            boolean endStream, ChannelPromise promise) {
        if (padding != 0 || streamId <= 0) {
            return super.writeHeaders(ctx, streamId, headers, padding, endStream, promise);
        }
        ByteBuf block;
        try {
            block = encodeHeaderBlock(ctx, streamId, headers);
        } catch (Http2Exception e) {
            return promise.setFailure(e);
        } catch (Throwable t) {
            promise.tryFailure(t);
            PlatformDependent.throwException(t);
            return promise;
        }
        return writeHeaderBlock(ctx, streamId, block, endStream, promise);
    }

    /**
     * {@code headers} HPACK-encoded into a new buffer after 9 free bytes (for the frame header),
     * for {@link #writeHeaderBlock}. A failure (the peer's header list limit) leaves nothing to
     * release.
     */
    ByteBuf encodeHeaderBlock(ChannelHandlerContext ctx, int streamId, Http2Headers headers) throws Http2Exception {
        ByteBuf frame = ctx.alloc().buffer();
        boolean done = false;
        try {
            frame.writerIndex(Http2CodecUtil.FRAME_HEADER_LENGTH);
            headersEncoder.encodeHeaders(streamId, headers, frame);
            done = true;
            return frame;
        } finally {
            if (!done) {
                frame.release();
            }
        }
    }

    /**
     * Writes a block from {@link #encodeHeaderBlock} (which it takes) as one HEADERS frame, or as a
     * HEADERS frame and CONTINUATION frames when it is larger than the peer's frame size.
     */
    ChannelFuture writeHeaderBlock(ChannelHandlerContext ctx, int streamId, ByteBuf frame, boolean endStream,
            ChannelPromise promise) {
        try {
            int block = frame.writerIndex() - Http2CodecUtil.FRAME_HEADER_LENGTH;
            int max = maxFrameSize();
            int flags = endStream ? Http2Flags.END_STREAM : 0;
            if (block <= max) {
                setFrameHeader(frame, 0, block, Http2FrameTypes.HEADERS, flags | Http2Flags.END_HEADERS, streamId);
                ByteBuf whole = frame;
                frame = null;
                return ctx.write(whole, promise);
            }
            return writeFragmented(ctx, streamId, frame, max, flags, promise);
        } catch (Throwable t) {
            promise.tryFailure(t);
            PlatformDependent.throwException(t);
            return promise;
        } finally {
            if (frame != null) {
                frame.release();
            }
        }
    }

    /**
     * A header block ({@code block}, after its 9 free bytes) larger than one frame: a HEADERS frame
     * of {@code max} bytes and CONTINUATION frames after it, as Netty writes them.
     */
    private static ChannelFuture writeFragmented(ChannelHandlerContext ctx, int streamId, ByteBuf block, int max,
            int flags, ChannelPromise promise) {
        Http2CodecUtil.SimpleChannelPromiseAggregator all =
                new Http2CodecUtil.SimpleChannelPromiseAggregator(promise, ctx.channel(), ctx.executor());
        try {
            setFrameHeader(block, 0, max, Http2FrameTypes.HEADERS, flags, streamId);
            int at = Http2CodecUtil.FRAME_HEADER_LENGTH + max;
            int end = block.writerIndex();
            ctx.write(block.retainedSlice(0, at), all.newPromise());
            while (at < end) {
                int length = Math.min(max, end - at);
                ByteBuf header = ctx.alloc().buffer(Http2CodecUtil.FRAME_HEADER_LENGTH);
                header.writerIndex(Http2CodecUtil.FRAME_HEADER_LENGTH);
                setFrameHeader(header, 0, length, Http2FrameTypes.CONTINUATION,
                        at + length == end ? Http2Flags.END_HEADERS : 0, streamId);
                ctx.write(header, all.newPromise());
                ctx.write(block.retainedSlice(at, length), all.newPromise());
                at += length;
            }
        } catch (Throwable t) {
            all.setFailure(t);
        }
        return all.doneAllocatingPromises();
    }

    /**
     * The 9-byte frame header at {@code at}, as Netty's {@code Http2CodecUtil.writeFrameHeader}
     * writes it, without the {@code Http2Flags} object that takes.
     */
    private static void setFrameHeader(ByteBuf out, int at, int payloadLength, byte type, int flags, int streamId) {
        out.setMedium(at, payloadLength);
        out.setByte(at + 3, type);
        out.setByte(at + 4, flags);
        out.setInt(at + 5, streamId);
    }
}
