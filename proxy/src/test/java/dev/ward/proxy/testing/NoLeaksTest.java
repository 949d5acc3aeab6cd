package dev.ward.proxy.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The leak check itself: a buffer dropped without release() is found, with where it was made. */
class NoLeaksTest {

    @Test
    void aBufferNeverReleasedIsReportedWithWhereItWasAllocated() throws Exception {
        assertThat(System.getProperty(NoLeaks.PROPERTY)).as("Maven runs the tests with the leak recorder")
                .isEqualTo(LeakRecorder.class.getName());
        assertThat(ResourceLeakDetector.getLevel()).isEqualTo(ResourceLeakDetector.Level.PARANOID);
        NoLeaks.collect(); // whatever an earlier class left is not this test's

        leakOneBuffer();
        List<String> leaks = new ArrayList<>();
        for (int i = 0; i < 20 && leaks.isEmpty(); i++) {
            leaks.addAll(NoLeaks.collect()); // drained here, so this class does not fail after it
        }

        assertThat(leaks).hasSize(1);
        assertThat(leaks.get(0)).startsWith("LEAK: ByteBuf.release() was not called")
                .contains(NoLeaksTest.class.getName() + ".leakOneBuffer");
    }

    @Test
    void releasedBuffersAreNotReported() throws Exception {
        NoLeaks.collect();
        for (int i = 0; i < 100; i++) {
            ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(64);
            buf.writeLong(i);
            buf.retainedSlice().release();
            buf.release();
        }
        assertThat(NoLeaks.collect()).isEmpty();
    }

    private static void leakOneBuffer() {
        ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(64);
        buf.writeLong(42L);
    }
}
