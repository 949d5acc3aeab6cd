package dev.ward.proxy.testing;

import io.netty.buffer.UnpooledByteBufAllocator;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test class after which Netty's leak detector finds a buffer that was never released.
 * Registered for every test class of this module (META-INF/services, with extension autodetection
 * on in junit-platform.properties); it works when the JVM runs {@link LeakRecorder}, as Maven's do.
 *
 * <p>Netty finds a leak only once the garbage collector has queued the lost buffer and a new tracked
 * buffer is allocated, so this collects garbage and allocates a few times after the class's tests
 * (and their sidecars) have finished. A leak that surfaces later is reported after a later class.
 */
public final class NoLeaks implements AfterAllCallback {

    static final String PROPERTY = "io.netty.customResourceLeakDetector";

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        if (System.getProperty(PROPERTY) == null) {
            return; // run outside Maven (e.g. from an IDE) without the recorder
        }
        List<String> leaks = collect();
        if (!leaks.isEmpty()) {
            throw new AssertionError(leaks.size() + " Netty buffer(s) leaked, found after "
                    + context.getRequiredTestClass().getSimpleName() + ":\n" + String.join("\n\n", leaks));
        }
    }

    /** Collects garbage and lets Netty look at what it queued; returns the leaks found so far. */
    public static List<String> collect() throws InterruptedException {
        if (!LeakRecorder.created()) {
            UnpooledByteBufAllocator.DEFAULT.directBuffer(1).release(); // creates Netty's detector
            if (!LeakRecorder.created()) {
                throw new AssertionError(PROPERTY + " is set but Netty did not make its leak detector from "
                        + LeakRecorder.class.getName() + " (is it on the system class path?)");
            }
        }
        List<String> leaks = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(20); // the reference handler thread queues what the collector found
            for (int j = 0; j < 4; j++) {
                // a tracked buffer (Netty 4.2 tracks no unpooled heap buffer): Netty polls its queue
                UnpooledByteBufAllocator.DEFAULT.directBuffer(1).release();
            }
            leaks.addAll(LeakRecorder.drain());
        }
        return leaks;
    }
}
