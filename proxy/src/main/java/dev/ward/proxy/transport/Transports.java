package dev.ward.proxy.transport;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;

/** What every transport shares: the one buffer pool. The transport itself is {@link Transport}. */
public final class Transports {

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
}
