package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.channel.DefaultEventLoop;
import io.netty.util.concurrent.EventExecutor;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class TimeoutQueueTest {

    final EventExecutor loop = new DefaultEventLoop();
    final List<String> ran = new CopyOnWriteArrayList<>();

    @AfterEach
    void stop() {
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }

    <T> T onLoop(Callable<T> c) throws Exception {
        return loop.submit(c).get(5, TimeUnit.SECONDS);
    }

    Runnable record(String name, long start) {
        return () -> ran.add(name + (System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(150) ? "" : " EARLY"));
    }

    @Test
    void timeoutsRunInOrderAfterTheirLengthAndCancelledOnesNever() throws Exception {
        long start = System.nanoTime();
        TimeoutQueue.Timeout[] t = onLoop(() -> {
            TimeoutQueue q = TimeoutQueue.of(loop, TimeUnit.MILLISECONDS.toNanos(150));
            return new TimeoutQueue.Timeout[] {q.add(record("a", start)), q.add(record("b", start)), q.add(record("c", start))};
        });
        onLoop(() -> {
            t[0].cancel(); // the head: the timer still fires for it, finds it gone, and carries on
            t[1].cancel();
            return null;
        });
        Thread.sleep(100);
        long later = System.nanoTime();
        onLoop(() -> TimeoutQueue.of(loop, TimeUnit.MILLISECONDS.toNanos(150)).add(record("d", later)));
        Thread.sleep(700);
        assertThat(ran).containsExactly("c", "d");
        assertThat(onLoop(() -> TimeoutQueue.of(loop, TimeUnit.MILLISECONDS.toNanos(150)).size())).isZero();

        // Empty now: a new one sets the timer again. Cancelling after it ran does nothing.
        long again = System.nanoTime();
        TimeoutQueue.Timeout e = onLoop(() -> TimeoutQueue.of(loop, TimeUnit.MILLISECONDS.toNanos(150)).add(record("e", again)));
        Thread.sleep(700);
        onLoop(() -> {
            e.cancel();
            return null;
        });
        assertThat(ran).containsExactly("c", "d", "e");
    }

    @Test
    void queuesAreOnePerLoopAndLengthAndAFailingTaskStopsNoOther() throws Exception {
        long start = System.nanoTime();
        onLoop(() -> {
            TimeoutQueue q = TimeoutQueue.of(loop, TimeUnit.MILLISECONDS.toNanos(150));
            assertThat(TimeoutQueue.of(loop, TimeUnit.MILLISECONDS.toNanos(150))).isSameAs(q);
            assertThat(TimeoutQueue.of(loop, TimeUnit.MILLISECONDS.toNanos(300))).isNotSameAs(q);
            q.add(() -> {
                throw new IllegalStateException("boom");
            });
            q.add(record("after", start));
            return null;
        });
        Thread.sleep(700);
        assertThat(ran).containsExactly("after");
        assertThatThrownBy(() -> TimeoutQueue.of(loop, 1)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("off its event loop");
    }
}
