package dev.ward.proxy.transport;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;

/** Picks the native epoll transport on Linux when it loads, NIO otherwise. */
public final class Transports {

    private static final boolean EPOLL = Epoll.isAvailable() && !Boolean.getBoolean("ward.nio");

    /**
     * The buffer allocator of every connection Ward opens or accepts: one pool for all. Netty
     * 4.2's default (adaptive) allocator treats a JVM with at most 512 MiB of heap as low on
     * memory, and then pools no buffer above 16.5 KiB: each larger socket read or TLS record
     * buffer was a fresh, zeroed direct {@code ByteBuffer} (5% of a sidecar's CPU at 16 KiB
     * responses, perf/README.md). Accepted connections already used this pool, so the outbound
     * connections' second pool also cost 8 MiB of RSS. Netty's own {@code io.netty.allocator.type}
     * property, when set, chooses instead (for measuring one against the other).
     */
    public static final ByteBufAllocator ALLOCATOR = System.getProperty("io.netty.allocator.type") != null
            ? ByteBufAllocator.DEFAULT : PooledByteBufAllocator.DEFAULT;

    private Transports() {}

    public static boolean isEpoll() {
        return EPOLL;
    }

    public static String name() {
        return EPOLL ? "epoll" : "nio";
    }

    public static EventLoopGroup newGroup(int threads, String name) {
        IoHandlerFactory f = EPOLL ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(name, true), f);
    }

    public static Class<? extends ServerChannel> serverChannel() {
        return EPOLL ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    }

    public static Class<? extends Channel> channel() {
        return EPOLL ? EpollSocketChannel.class : NioSocketChannel.class;
    }
}
