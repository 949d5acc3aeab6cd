package dev.ward.proxy.resilience;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * At most {@code maxConcurrent} requests at once, and at most {@code maxPending} waiting for a
 * turn, without ever blocking a thread: a waiter is a callback, run on its own event loop when a
 * slot is handed to it. Shared by all event loops of a sidecar.
 */
public final class Bulkhead {

    private final int maxConcurrent;
    private final int maxPending;
    private final AtomicInteger active = new AtomicInteger();
    private final AtomicInteger pending = new AtomicInteger();
    private final ConcurrentLinkedQueue<Waiter> waiters = new ConcurrentLinkedQueue<>();

    public Bulkhead(int maxConcurrent, int maxPending) {
        this.maxConcurrent = maxConcurrent;
        this.maxPending = maxPending;
    }

    /** Takes a slot if one is free. */
    public boolean tryEnter() {
        for (int a; (a = active.get()) < maxConcurrent; ) {
            if (active.compareAndSet(a, a + 1)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Waits for a slot: {@code grant} runs on {@code executor} holding one. Null when the waiting
     * line is full too.
     */
    public Waiter enqueue(Executor executor, Runnable grant) {
        if (pending.incrementAndGet() > maxPending) {
            pending.decrementAndGet();
            return null;
        }
        Waiter w = new Waiter(executor, grant);
        waiters.add(w);
        handOut(); // a slot may have been freed between tryEnter and add
        return w;
    }

    /** Gives a slot back, to the next waiter if there is one. */
    public void exit() {
        active.decrementAndGet();
        handOut();
    }

    public int active() {
        return active.get();
    }

    public int pending() {
        return pending.get();
    }

    private void handOut() {
        while (!waiters.isEmpty() && tryEnter()) {
            Waiter w = waiters.poll();
            if (w == null || !w.state.compareAndSet(Waiter.WAITING, Waiter.GRANTED)) {
                active.decrementAndGet(); // nobody (left) to give it to
                continue;
            }
            pending.decrementAndGet();
            w.executor.execute(w.grant);
        }
    }

    /** One request waiting for a slot. */
    public final class Waiter {
        static final int WAITING = 0;
        static final int GRANTED = 1;
        static final int CANCELLED = 2;
        final AtomicInteger state = new AtomicInteger(WAITING);
        final Executor executor;
        final Runnable grant;

        Waiter(Executor executor, Runnable grant) {
            this.executor = executor;
            this.grant = grant;
        }

        /** Stops waiting; false if a slot was already handed to it (the grant then owns it). */
        public boolean cancel() {
            if (state.compareAndSet(WAITING, CANCELLED)) {
                pending.decrementAndGet();
                waiters.remove(this);
                return true;
            }
            return false;
        }
    }
}
