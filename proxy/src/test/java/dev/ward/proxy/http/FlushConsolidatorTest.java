package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class FlushConsolidatorTest {

    /** Counts the flushes that get past the consolidator (it sits between this and the channel's head). */
    private static final class Flushes extends ChannelOutboundHandlerAdapter {
        int count;

        @Override
        public void flush(ChannelHandlerContext ctx) {
            count++;
            ctx.flush();
        }
    }

    private final Flushes flushes = new Flushes();

    private EmbeddedChannel channel(int explicitAfter) {
        EmbeddedChannel ch = new EmbeddedChannel(flushes, new FlushConsolidator(explicitAfter));
        flushes.count = 0;
        return ch;
    }

    private static List<Object> written(EmbeddedChannel ch) {
        List<Object> out = new ArrayList<>();
        for (Object m; (m = ch.readOutbound()) != null; ) {
            out.add(m);
        }
        return out;
    }

    @Test
    void flushesOutsideAReadBecomeOneWhenTheLoopGetsToIt() {
        EmbeddedChannel ch = channel(256);
        // Through the pipeline, and no write after a flush: an embedded channel runs the loop's
        // pending tasks whenever a write reaches it, and its own flush() does too.
        ch.pipeline().write("a");
        ch.pipeline().write("b");
        ch.pipeline().flush();
        ch.pipeline().flush();
        assertThat(flushes.count).isZero();
        assertThat(written(ch)).isEmpty();
        ch.runPendingTasks();
        assertThat(written(ch)).containsExactly("a", "b");
        assertThat(flushes.count).isEqualTo(1);
        // the task is queued again for the next turn
        ch.pipeline().writeAndFlush("c");
        assertThat(written(ch)).isEmpty();
        ch.runPendingTasks();
        assertThat(written(ch)).containsExactly("c");
        assertThat(flushes.count).isEqualTo(2);
        ch.finishAndReleaseAll();
    }

    @Test
    void duringAReadFlushesWaitForReadCompleteOrTheExplicitLimit() {
        EmbeddedChannel ch = channel(3);
        ch.pipeline().fireChannelRead("request");
        ch.pipeline().writeAndFlush("a");
        ch.runPendingTasks(); // a read is in progress: the task leaves it to read complete
        assertThat(written(ch)).isEmpty();
        ch.pipeline().fireChannelReadComplete();
        assertThat(written(ch)).containsExactly("a");
        assertThat(flushes.count).isEqualTo(1);

        ch.pipeline().fireChannelRead("request");
        ch.pipeline().writeAndFlush("b");
        ch.pipeline().writeAndFlush("c");
        assertThat(written(ch)).isEmpty();
        ch.pipeline().writeAndFlush("d"); // the third flush goes at once
        assertThat(written(ch)).containsExactly("b", "c", "d");
        ch.finishAndReleaseAll();
    }

    @Test
    void whatIsHeldGoesOutBeforeAClose() {
        EmbeddedChannel ch = channel(256);
        ch.pipeline().writeAndFlush("last");
        assertThat(flushes.count).isZero();
        ch.close();
        assertThat(written(ch)).containsExactly("last");
        ch.runPendingTasks(); // the queued task finds nothing left and does nothing
        assertThat(flushes.count).isEqualTo(1);
        ch.finishAndReleaseAll();
    }

    @Test
    void whatIsHeldGoesOutWhenTheHandlerIsRemoved() {
        EmbeddedChannel ch = channel(256);
        ch.pipeline().writeAndFlush("x");
        assertThat(flushes.count).isZero();
        ch.pipeline().remove(FlushConsolidator.class);
        assertThat(written(ch)).containsExactly("x");
        ch.runPendingTasks(); // the task of a removed handler does nothing
        assertThat(flushes.count).isEqualTo(1);
        ch.finishAndReleaseAll();
    }
}
