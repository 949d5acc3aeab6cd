package dev.ward.proxy.resilience;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class BulkheadTest {

    @Test
    void slotsThenAWaitingLineThenNo() {
        Bulkhead b = new Bulkhead(2, 1);
        assertThat(b.tryEnter()).isTrue();
        assertThat(b.tryEnter()).isTrue();
        assertThat(b.tryEnter()).isFalse();
        List<String> granted = new ArrayList<>();
        Bulkhead.Waiter w = b.enqueue(Runnable::run, () -> granted.add("w1"));
        assertThat(w).isNotNull();
        assertThat(b.enqueue(Runnable::run, () -> granted.add("w2"))).as("line full").isNull();
        assertThat(b.pending()).isEqualTo(1);
        b.exit();
        assertThat(granted).containsExactly("w1");
        assertThat(b.active()).isEqualTo(2);
        assertThat(b.pending()).isZero();
    }

    @Test
    void aCancelledWaiterGetsNothingAndFreesItsPlace() {
        Bulkhead b = new Bulkhead(1, 1);
        assertThat(b.tryEnter()).isTrue();
        AtomicInteger granted = new AtomicInteger();
        Bulkhead.Waiter w = b.enqueue(Runnable::run, granted::incrementAndGet);
        assertThat(w.cancel()).isTrue();
        assertThat(b.pending()).isZero();
        b.exit();
        assertThat(granted.get()).isZero();
        assertThat(b.active()).isZero();
        assertThat(w.cancel()).isFalse();
    }

    @Test
    void underContentionNoSlotIsLostOrDoubled() throws Exception {
        Bulkhead b = new Bulkhead(4, 20_000); // grants queue behind the submitted tasks, so the line can get long
        ExecutorService pool = Executors.newFixedThreadPool(8);
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger maxInside = new AtomicInteger();
        int n = 20_000;
        CountDownLatch done = new CountDownLatch(n);
        AtomicInteger overflowed = new AtomicInteger();
        Runnable work = () -> {
            int now = inside.incrementAndGet();
            maxInside.accumulateAndGet(now, Math::max);
            inside.decrementAndGet();
            b.exit();
            done.countDown(); // after exit, so that the counts are final once every task is done
        };
        for (int i = 0; i < n; i++) {
            pool.execute(() -> {
                if (b.tryEnter()) {
                    work.run();
                } else if (b.enqueue(pool, work) == null) {
                    overflowed.incrementAndGet();
                    done.countDown();
                }
            });
        }
        assertThat(done.await(20, TimeUnit.SECONDS)).isTrue();
        pool.shutdown();
        assertThat(overflowed.get()).isZero();
        assertThat(maxInside.get()).isLessThanOrEqualTo(4);
        assertThat(b.active()).isZero();
        assertThat(b.pending()).isZero();
    }
}
