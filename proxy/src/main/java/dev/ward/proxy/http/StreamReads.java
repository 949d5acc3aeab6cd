package dev.ward.proxy.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelConfig;
import io.netty.channel.MaxMessagesRecvByteBufAllocator;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.util.UncheckedBooleanSupplier;

/**
 * How an HTTP/2 stream channel reads: up to {@value #MAX_MESSAGES_PER_READ} frames per read while
 * auto-read is on, as Netty's default decides for a stream channel, without its guessing. A stream
 * channel reads frames its connection has already decoded, never bytes from a socket, yet Netty
 * gives each one the socket channels' {@code AdaptiveRecvByteBufAllocator}: an allocator, a handle
 * and a size predictor per stream, whose buffer-size guess no one asks for. One shared allocator;
 * a small handle per stream, since a handle's count lives through one read loop. That saves the
 * handle and predictor Netty would make at the stream's first read (JMH {@code h2conn}: about
 * 110 B per request); the config's constructor still makes its own default allocator and a
 * throwaway handle, out of Ward's reach.
 */
final class StreamReads implements MaxMessagesRecvByteBufAllocator {

    /** What Netty's stream channels read per loop ({@code ChannelMetadata(false, 16)}). */
    static final int MAX_MESSAGES_PER_READ = 16;

    static final StreamReads INSTANCE = new StreamReads();

    private StreamReads() {
    }

    @Override
    public Handle newHandle() {
        return new StreamHandle();
    }

    @Override
    public int maxMessagesPerRead() {
        return MAX_MESSAGES_PER_READ;
    }

    @Override
    public MaxMessagesRecvByteBufAllocator maxMessagesPerRead(int maxMessagesPerRead) {
        throw new UnsupportedOperationException("an HTTP/2 stream reads at most " + MAX_MESSAGES_PER_READ
                + " frames per loop (shared by every stream)");
    }

    @SuppressWarnings("deprecation")
    private static final class StreamHandle implements RecvByteBufAllocator.ExtendedHandle {
        private ChannelConfig config;
        private int messages;

        @Override
        public ByteBuf allocate(ByteBufAllocator alloc) {
            return alloc.ioBuffer(guess());
        }

        @Override
        public int guess() {
            return 1024; // a stream channel is handed frames; it allocates nothing to read into
        }

        @Override
        public void reset(ChannelConfig config) {
            this.config = config;
            messages = 0;
        }

        @Override
        public void incMessagesRead(int numMessages) {
            messages += numMessages;
        }

        @Override
        public void lastBytesRead(int bytes) {
        }

        @Override
        public int lastBytesRead() {
            return 0;
        }

        @Override
        public void attemptedBytesRead(int bytes) {
        }

        @Override
        public int attemptedBytesRead() {
            return 0;
        }

        @Override
        public boolean continueReading() {
            return config.isAutoRead() && messages < MAX_MESSAGES_PER_READ;
        }

        @Override
        public boolean continueReading(UncheckedBooleanSupplier maybeMoreDataSupplier) {
            return continueReading();
        }

        @Override
        public void readComplete() {
        }
    }
}
