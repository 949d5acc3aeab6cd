package dev.ward.proxy.util;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Runs a check every {@code interval} on one daemon thread of its own: how identity files and
 * policy files are watched (polling, not inotify, works the same on every file system and with
 * Kubernetes' symlink-swapped secret volumes) and upstream DNS names re-resolved. Never touches
 * an event loop.
 */
public final class Poller implements AutoCloseable {

    private final ScheduledExecutorService executor;

    private Poller(String threadName, Duration interval, Runnable check) {
        executor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, threadName);
            t.setDaemon(true);
            return t;
        });
        long ms = interval.toMillis();
        executor.scheduleWithFixedDelay(check, ms, ms, TimeUnit.MILLISECONDS);
    }

    /** Starts polling; {@code interval} zero means never, and returns null. */
    public static Poller every(Duration interval, String threadName, Runnable check) {
        return interval.isZero() ? null : new Poller(threadName, interval, check);
    }

    @Override
    public void close() {
        executor.shutdownNow();
    }
}
