package dev.ward.proxy.http;

import static io.netty.handler.codec.http2.Http2Error.INTERNAL_ERROR;
import static io.netty.handler.codec.http2.Http2Exception.connectionError;

import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2ConnectionAdapter;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.StreamByteDistributor;
import io.netty.util.collection.IntObjectHashMap;
import java.util.ArrayDeque;

/**
 * How the streams of a connection share its send window: Netty's
 * {@code UniformStreamByteDistributor}, without an object per stream.
 *
 * <p>Each pass, every stream with bytes it may send gets an equal share of what the connection may
 * send, at least 1 KiB, in the order the streams came to have something to send (a stream that
 * still has bytes after its share goes to the back). Netty's distributor keeps, per stream, an
 * object with the stream's sendable bytes, whether its window is negative, whether it is queued and
 * whether it is being written: 32-40 B made as every stream is opened, a fifth of what Netty's
 * flow control makes per stream. All four are known without it: the sendable bytes and the window
 * from the flow controller's own state of the stream (which it hands to every call), whether a
 * stream is queued from a map of stream ids (open addressing: nothing made per stream), and which
 * stream is being written from one field (one at a time). It makes the same writes, in the same
 * order, of the same sizes, as Netty's ({@code TakeTurnsDistributorTest} drives both alike).
 */
final class TakeTurnsDistributor implements StreamByteDistributor {

    /** Netty's {@code Http2CodecUtil.DEFAULT_MIN_ALLOCATION_CHUNK}: a stream's share of a pass is at least this. */
    static final int MIN_ALLOCATION_CHUNK = 1024;

    /** The streams with something to send (or an empty frame to write), in turn. */
    private final ArrayDeque<StreamState> queue = new ArrayDeque<>(4);
    /** The streams in {@link #queue}, by id. */
    private final IntObjectHashMap<StreamState> queued = new IntObjectHashMap<>(4);
    /** The stream being written now, if any. */
    private Http2Stream writing;

    TakeTurnsDistributor(Http2Connection connection) {
        connection.addListener(new Http2ConnectionAdapter() {
            @Override
            public void onStreamClosed(Http2Stream stream) {
                StreamState s = queued.remove(stream.id());
                if (s != null) {
                    queue.remove(s);
                }
            }
        });
    }

    @Override
    public void updateStreamableBytes(StreamState state) {
        int window = state.windowSize();
        // As Netty's: a stream with a frame joins the queue if its window is open, or if it is shut
        // (an empty frame can go) and the stream is not the one being written.
        if (state.hasFrame() && (window > 0 || window == 0 && writing != state.stream())) {
            int id = state.stream().id();
            if (!queued.containsKey(id)) {
                queued.put(id, state);
                queue.addLast(state);
            }
        }
    }

    @Override
    public void updateDependencyTree(int childStreamId, int parentStreamId, short weight, boolean exclusive) {
        // Priorities play no part (RFC 9113 deprecates them).
    }

    @Override
    public boolean distribute(int maxBytes, Writer writer) throws Http2Exception {
        int size = queue.size();
        if (size == 0) {
            return false;
        }
        int chunkSize = Math.max(MIN_ALLOCATION_CHUNK, maxBytes / size);
        StreamState state = queue.pollFirst();
        do {
            queued.remove(state.stream().id());
            if (state.windowSize() < 0) {
                continue; // it waits for window (a SETTINGS change shut it); it comes back when it opens
            }
            int streamable = Http2CodecUtil.streamableBytes(state);
            if (maxBytes == 0 && streamable > 0) {
                queue.addFirst(state); // its turn comes first next time
                queued.put(state.stream().id(), state);
                break;
            }
            int chunk = Math.min(chunkSize, Math.min(maxBytes, streamable));
            maxBytes -= chunk;
            write(state.stream(), chunk, writer);
        } while ((state = queue.pollFirst()) != null);
        return anyStreamable();
    }

    /** Whether a stream has bytes it may send: every such stream is queued (see {@link #updateStreamableBytes}). */
    private boolean anyStreamable() {
        for (StreamState s : queue) {
            if (Http2CodecUtil.streamableBytes(s) > 0) {
                return true;
            }
        }
        return false;
    }

    private void write(Http2Stream stream, int bytes, Writer writer) throws Http2Exception {
        writing = stream;
        try {
            writer.write(stream, bytes);
        } catch (Throwable t) {
            throw connectionError(INTERNAL_ERROR, t, "byte distribution write error");
        } finally {
            writing = null;
        }
    }
}
