package dev.ward.proxy.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * A helper server run as a child process (Zipkin for the demo; Prometheus in the tests): its
 * output goes to a log file, {@link #start} returns once it answers its readiness check, and a
 * failure to start says why with the log's contents.
 */
public final class ChildProcess implements AutoCloseable {

    private final String name;
    private final Process process;
    private final Path log;

    private ChildProcess(String name, Process process, Path log) {
        this.name = name;
        this.process = process;
        this.log = log;
    }

    /** Starts {@code pb} (output to {@code log}) and waits up to {@code timeout} for {@code ready} to say true. */
    public static ChildProcess start(String name, ProcessBuilder pb, Path log, Duration timeout, Callable<Boolean> ready)
            throws Exception {
        ChildProcess c = new ChildProcess(name, pb.redirectErrorStream(true).redirectOutput(log.toFile()).start(), log);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!c.process.isAlive()) {
                throw new IllegalStateException(name + " exited with " + c.process.exitValue() + ": " + Files.readString(log));
            }
            try {
                if (Boolean.TRUE.equals(ready.call())) {
                    return c;
                }
            } catch (IOException notYet) {
                // still starting
            }
            Thread.sleep(100);
        }
        c.close();
        throw new IllegalStateException(name + " not ready within " + timeout.toSeconds() + " s: " + Files.readString(log));
    }

    public Path log() {
        return log;
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return name;
    }
}
