package dev.ward.proxy.testing;

import io.netty.util.ResourceLeakDetector;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Netty's leak detector for the tests, which keeps what it finds instead of only logging it, so
 * that {@link NoLeaks} can fail the test class that leaked. Maven's test JVMs name it with
 * {@code -Dio.netty.customResourceLeakDetector} and run it at {@code paranoid} level: every buffer
 * is tracked, so a buffer Ward forgets to release fails the build, and a production sidecar can run
 * with leak detection off (perf/README.md, JVM flags).
 */
public final class LeakRecorder<T> extends ResourceLeakDetector<T> {

    private static final Queue<String> LEAKS = new ConcurrentLinkedQueue<>();
    private static volatile boolean created;

    /** The constructor Netty's {@code ResourceLeakDetectorFactory} looks up for a custom detector. */
    public LeakRecorder(Class<?> resourceType, int samplingInterval) {
        super(resourceType, samplingInterval);
        created = true;
    }

    /** The constructor Netty looks up first (and logs an error without): {@code maxActive} is unused. */
    public LeakRecorder(Class<?> resourceType, int samplingInterval, long maxActive) {
        this(resourceType, samplingInterval);
    }

    /** Whether Netty made its leak detectors from this class in this JVM. */
    public static boolean created() {
        return created;
    }

    /** The leaks reported since the last call, each as Netty words it (with its access records). */
    public static List<String> drain() {
        List<String> out = new ArrayList<>();
        for (String leak; (leak = LEAKS.poll()) != null; ) {
            out.add(leak);
        }
        return out;
    }

    @Override
    protected boolean needReport() {
        return true; // whatever the log level
    }

    @Override
    protected void reportTracedLeak(String resourceType, String records) {
        LEAKS.add("LEAK: " + resourceType + ".release() was not called before it was garbage-collected." + records);
    }

    @Override
    protected void reportUntracedLeak(String resourceType) {
        LEAKS.add("LEAK: " + resourceType + ".release() was not called before it was garbage-collected"
                + " (no access records: run at paranoid level to see where it was used).");
    }
}
