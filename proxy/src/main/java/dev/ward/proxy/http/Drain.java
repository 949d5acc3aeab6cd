package dev.ward.proxy.http;

import io.netty.channel.Channel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Bookkeeping for graceful shutdown: the open downstream connections and the number of
 * exchanges in flight. When draining starts, every connection is told with {@link #EVENT}:
 * idle HTTP/1.1 connections close, busy ones close after their response, HTTP/2 connections
 * send GOAWAY and finish their streams.
 */
public final class Drain {

    /** User event fired through each open connection's pipeline when draining starts. */
    public static final Object EVENT = new Object() {
        @Override
        public String toString() {
            return "DrainEvent";
        }
    };

    private final ChannelGroup connections = new DefaultChannelGroup("ward-connections", GlobalEventExecutor.INSTANCE);
    private final AtomicInteger inFlight = new AtomicInteger();
    private volatile boolean draining;

    public void track(Channel connection) {
        connections.add(connection);
    }

    public void exchangeStarted() {
        inFlight.incrementAndGet();
    }

    public void exchangeEnded() {
        inFlight.decrementAndGet();
    }

    public int inFlight() {
        return inFlight.get();
    }

    public boolean isDraining() {
        return draining;
    }

    public int openConnections() {
        return connections.size();
    }

    /**
     * Starts draining and waits until no exchange is in flight or {@code timeout} passes, then
     * closes every connection. Returns how many exchanges were still in flight at the deadline
     * (0: everything completed).
     */
    public int drain(Duration timeout) throws InterruptedException {
        draining = true;
        for (Channel ch : connections) {
            ch.eventLoop().execute(() -> ch.pipeline().fireUserEventTriggered(EVENT));
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (inFlight.get() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        int left = Math.max(0, inFlight.get());
        connections.close().awaitUninterruptibly(timeout.toMillis() + 1000);
        return left;
    }
}
