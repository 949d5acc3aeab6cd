package dev.ward.proxy.http;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.FastThreadLocal;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The timeouts of one length on one event loop ({@code timeouts.firstByte} of an upstream, say).
 * All of them are as long, so each new one ends after every one before it: a list in arrival order
 * is also in deadline order, and arming, cancelling and expiring are constant-time list operations,
 * with one timer of the event loop's for the whole queue, set for the earliest deadline. Netty's
 * own {@code schedule} and {@code cancel} would be a task and a promise per request, each inserted
 * into and removed from the loop's priority queue (2% of an outbound sidecar's event loop, at two
 * per request). Confined to its event loop, like everything it times.
 */
public final class TimeoutQueue {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(TimeoutQueue.class);

    private static final FastThreadLocal<List<TimeoutQueue>> QUEUES = new FastThreadLocal<>() {
        @Override
        protected List<TimeoutQueue> initialValue() {
            return new ArrayList<>(4);
        }
    };

    private final EventExecutor loop;
    private final long nanos;
    private final Runnable fire = this::fire;
    private Timeout head;
    private Timeout tail;
    private boolean timerSet;

    private TimeoutQueue(EventExecutor loop, long nanos) {
        this.loop = loop;
        this.nanos = nanos;
    }

    /** The queue of timeouts of {@code nanos} on {@code loop}; call it from that loop's thread. */
    public static TimeoutQueue of(EventExecutor loop, long nanos) {
        if (!loop.inEventLoop()) {
            throw new IllegalStateException("TimeoutQueue.of called off its event loop");
        }
        List<TimeoutQueue> qs = QUEUES.get();
        for (int i = 0; i < qs.size(); i++) {
            TimeoutQueue q = qs.get(i);
            if (q.nanos == nanos && q.loop == loop) {
                return q;
            }
        }
        TimeoutQueue q = new TimeoutQueue(loop, nanos);
        qs.add(q);
        return q;
    }

    /** Runs {@code task} on the loop once this queue's length has passed, unless cancelled first. */
    public Timeout add(Runnable task) {
        Timeout t = new Timeout(this, task, System.nanoTime() + nanos);
        if (tail == null) {
            head = t;
        } else {
            tail.next = t;
            t.prev = tail;
        }
        tail = t;
        if (!timerSet) {
            timerSet = true;
            loop.schedule(fire, nanos, TimeUnit.NANOSECONDS);
        }
        return t;
    }

    /** Timeouts armed and not yet expired or cancelled (for tests). */
    int size() {
        int n = 0;
        for (Timeout t = head; t != null; t = t.next) {
            n++;
        }
        return n;
    }

    private void unlink(Timeout t) {
        if (t.prev != null) {
            t.prev.next = t.next;
        } else {
            head = t.next;
        }
        if (t.next != null) {
            t.next.prev = t.prev;
        } else {
            tail = t.prev;
        }
        t.prev = null;
        t.next = null;
        t.queue = null;
    }

    /**
     * The timer: runs what has expired, then sets itself for the earliest deadline left. A head
     * cancelled meanwhile is not unscheduled; the timer just finds nothing due and sets itself later.
     */
    private void fire() {
        long now = System.nanoTime();
        for (Timeout t; (t = head) != null && t.deadline - now <= 0; ) {
            unlink(t);
            try {
                t.task.run();
            } catch (RuntimeException e) {
                log.warn("a timeout's handling failed", e); // and the other timeouts due still run
            }
        }
        if (head != null) {
            loop.schedule(fire, Math.max(0, head.deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } else {
            timerSet = false;
        }
    }

    /** One armed timeout. */
    public static final class Timeout {
        private TimeoutQueue queue;
        private final Runnable task;
        private final long deadline;
        private Timeout prev;
        private Timeout next;

        private Timeout(TimeoutQueue queue, Runnable task, long deadline) {
            this.queue = queue;
            this.task = task;
            this.deadline = deadline;
        }

        /** Disarms it, if it has not run yet; on the queue's event loop. */
        public void cancel() {
            if (queue != null) {
                queue.unlink(this);
            }
        }
    }
}
