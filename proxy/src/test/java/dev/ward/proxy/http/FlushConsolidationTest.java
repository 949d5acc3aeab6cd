package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link FlushConsolidation}: held to what Netty's {@code FlushConsolidationHandler(n, true)} does. */
class FlushConsolidationTest {

    /**
     * Counts the flushes that get past the handler under test, and stops them there: an embedded
     * channel runs its queued tasks whenever a flush reaches it, which an event loop does not.
     */
    static final class Flushes extends ChannelOutboundHandlerAdapter {
        int count;

        @Override
        public void flush(ChannelHandlerContext ctx) {
            count++;
        }
    }

    /** Takes what is read, and the read's end, before the embedded channel's tail (which runs the queued tasks then). */
    static final class Reader extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
        }
    }

    private static EmbeddedChannel channel(Flushes flushes, ChannelHandler consolidation) {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.pipeline().addLast(flushes, consolidation, new Reader());
        ch.runPendingTasks();
        flushes.count = 0;
        return ch;
    }

    @Test
    void flushesDuringAReadGoOutAsOneWhenTheReadIsDone() {
        Flushes out = new Flushes();
        EmbeddedChannel ch = channel(out, new FlushConsolidation(256));
        ch.pipeline().fireChannelRead(Unpooled.EMPTY_BUFFER);
        for (int i = 0; i < 10; i++) {
            ch.pipeline().flush();
        }
        ch.runPendingTasks();
        assertThat(out.count).isZero();
        ch.pipeline().fireChannelReadComplete();
        assertThat(out.count).isEqualTo(1);
        ch.runPendingTasks();
        assertThat(out.count).isEqualTo(1);
        ch.finishAndReleaseAll();
    }

    @Test
    void flushesOutsideAReadGoOutAsOneOnceTheLoopGetsToIt() {
        Flushes out = new Flushes();
        EmbeddedChannel ch = channel(out, new FlushConsolidation(256));
        for (int i = 0; i < 10; i++) {
            ch.pipeline().flush();
        }
        assertThat(out.count).isZero();
        ch.runPendingTasks();
        assertThat(out.count).isEqualTo(1);
        ch.pipeline().flush();
        ch.runPendingTasks();
        assertThat(out.count).isEqualTo(2);
        ch.finishAndReleaseAll();
    }

    @Test
    void aFlushHeldAfterTheQueuedTaskWasOvertakenWaitsForAFreshTask() {
        Flushes out = new Flushes();
        FlushConsolidation consolidation = new FlushConsolidation(256);
        EmbeddedChannel ch = channel(out, consolidation);
        // The handler called as the event loop would, without the embedded channel's own task runs.
        ChannelHandlerContext ctx = ch.pipeline().context(consolidation);
        consolidation.flush(ctx); // queues the task
        consolidation.channelRead(ctx, Unpooled.EMPTY_BUFFER);
        consolidation.channelReadComplete(ctx); // flushes now: the queued task is overtaken
        assertThat(out.count).isEqualTo(1);
        consolidation.flush(ctx); // held: a fresh task is queued behind the stale one
        assertThat(out.count).isEqualTo(1);
        ch.runPendingTasks(); // the stale task does nothing, the fresh one flushes once
        assertThat(out.count).isEqualTo(2);
        ch.runPendingTasks();
        assertThat(out.count).isEqualTo(2);
        consolidation.flush(ctx); // and the next one queues again
        ch.runPendingTasks();
        assertThat(out.count).isEqualTo(3);
        ch.finishAndReleaseAll();
    }

    @Test
    void theNthHeldFlushGoesOutAtOnce() {
        Flushes out = new Flushes();
        EmbeddedChannel ch = channel(out, new FlushConsolidation(3));
        ch.pipeline().fireChannelRead(Unpooled.EMPTY_BUFFER);
        ch.pipeline().flush();
        ch.pipeline().flush();
        assertThat(out.count).isZero();
        ch.pipeline().flush();
        assertThat(out.count).isEqualTo(1);
        ch.pipeline().fireChannelReadComplete();
        assertThat(out.count).isEqualTo(1); // nothing held any more
        ch.finishAndReleaseAll();
    }

    @Test
    void closeAndRemovalFlushWhatIsHeld() {
        Flushes out = new Flushes();
        EmbeddedChannel ch = channel(out, new FlushConsolidation(256));
        ch.pipeline().flush();
        ch.close();
        assertThat(out.count).isEqualTo(1);

        Flushes out2 = new Flushes();
        FlushConsolidation removed = new FlushConsolidation(256);
        EmbeddedChannel ch2 = channel(out2, removed);
        ch2.pipeline().fireChannelRead(Unpooled.EMPTY_BUFFER);
        ch2.pipeline().flush();
        ch2.pipeline().remove(removed);
        assertThat(out2.count).isEqualTo(1);
        ch2.finishAndReleaseAll();
    }

    @Test
    void refusesANonPositiveLimit() {
        assertThatThrownBy(() -> new FlushConsolidation(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("flushAfterFlushes");
    }

    /**
     * Random sequences of reads, flushes and loop turns given to this handler and to Netty's side by
     * side: after every step, the same number of flushes has got through.
     */
    @Test
    void flushesWhenNettysHandlerWould() {
        Random random = new Random(20261205);
        for (int run = 0; run < 3_000; run++) {
            int limit = 1 + random.nextInt(5);
            Flushes ours = new Flushes();
            Flushes netty = new Flushes();
            EmbeddedChannel a = channel(ours, new FlushConsolidation(limit));
            EmbeddedChannel b = channel(netty, new FlushConsolidationHandler(limit, true));
            boolean reading = false;
            List<String> steps = new ArrayList<>();
            for (int step = 0; step < 40; step++) {
                int op = random.nextInt(reading ? 4 : 3);
                switch (op) {
                    case 0, 1 -> {
                        steps.add("flush");
                        a.pipeline().flush();
                        b.pipeline().flush();
                    }
                    case 2 -> {
                        if (reading || random.nextBoolean()) {
                            steps.add("loop");
                            a.runPendingTasks();
                            b.runPendingTasks();
                        } else {
                            steps.add("read");
                            reading = true;
                            a.pipeline().fireChannelRead(Unpooled.EMPTY_BUFFER);
                            b.pipeline().fireChannelRead(Unpooled.EMPTY_BUFFER);
                        }
                    }
                    default -> {
                        steps.add("readComplete");
                        reading = false;
                        a.pipeline().fireChannelReadComplete();
                        b.pipeline().fireChannelReadComplete();
                    }
                }
                assertThat(ours.count).as("limit %d after %s", limit, steps).isEqualTo(netty.count);
            }
            a.close();
            b.close();
            assertThat(ours.count).as("limit %d after %s and close", limit, steps).isEqualTo(netty.count);
            a.finishAndReleaseAll();
            b.finishAndReleaseAll();
        }
    }
}
