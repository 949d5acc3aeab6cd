package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

/**
 * {@link FlushConsolidator} on an {@link EmbeddedChannel}, whose event loop runs queued tasks only
 * when told ({@code runPendingTasks}): the flushes that reach the socket are counted between it
 * and the channel's head.
 */
class FlushConsolidatorTest {

    /** Counts the flushes that pass it towards the socket. */
    private static final class Flushes extends ChannelOutboundHandlerAdapter {
        int count;

        @Override
        public void flush(ChannelHandlerContext ctx) {
            count++;
            ctx.flush();
        }
    }

    private final Flushes flushes = new Flushes();
    private final EmbeddedChannel ch = new EmbeddedChannel(flushes, new FlushConsolidator());

    /** Through the pipeline: {@code EmbeddedChannel}'s own {@code write} and {@code flush} run the queued tasks. */
    private void writeAndFlush(String msg) {
        ch.pipeline().write(msg);
        ch.pipeline().flush();
    }

    @Test
    void flushesAskedForOutsideAReadAreMadeOnceWhenTheLoopGetsToThem() {
        // Written first: EmbeddedChannel runs its queued tasks whenever a write reaches its socket.
        ch.pipeline().write("a");
        ch.pipeline().write("b");
        ch.pipeline().flush();
        ch.pipeline().flush();
        assertThat(flushes.count).isZero();
        assertThat((Object) ch.readOutbound()).isNull();

        ch.runPendingTasks();
        assertThat(flushes.count).isEqualTo(1);
        assertThat((Object) ch.readOutbound()).isEqualTo("a");
        assertThat((Object) ch.readOutbound()).isEqualTo("b");

        writeAndFlush("c"); // the task is queued again once it has run
        assertThat(flushes.count).isEqualTo(1);
        ch.runPendingTasks();
        assertThat(flushes.count).isEqualTo(2);
        assertThat((Object) ch.readOutbound()).isEqualTo("c");
    }

    @Test
    void flushesAskedForDuringAReadWaitForItsEnd() {
        ch.pipeline().fireChannelRead("request");
        writeAndFlush("a");
        ch.runPendingTasks();
        assertThat(flushes.count).isZero(); // the read is still in progress

        ch.pipeline().fireChannelReadComplete();
        assertThat(flushes.count).isEqualTo(1);
        assertThat((Object) ch.readOutbound()).isEqualTo("a");
        assertThat((Object) ch.readInbound()).isEqualTo("request");
    }

    @Test
    void aQueuedTaskWhoseFlushesAReadEndAlreadyMadeDoesNothing() {
        writeAndFlush("a"); // queues the task
        ch.pipeline().fireChannelRead("request");
        ch.pipeline().fireChannelReadComplete(); // makes the held flush
        assertThat(flushes.count).isEqualTo(1);
        ch.runPendingTasks();
        assertThat(flushes.count).isEqualTo(1);
        assertThat((Object) ch.readOutbound()).isEqualTo("a");
        ch.readInbound();
    }

    @Test
    void the256thHeldFlushIsMadeAtOnce() {
        ch.pipeline().fireChannelRead("request");
        for (int i = 1; i < FlushConsolidator.EXPLICIT_FLUSH_AFTER_FLUSHES; i++) {
            writeAndFlush("m" + i);
        }
        assertThat(flushes.count).isZero();
        writeAndFlush("last");
        assertThat(flushes.count).isEqualTo(1);
        assertThat(ch.outboundMessages()).hasSize(FlushConsolidator.EXPLICIT_FLUSH_AFTER_FLUSHES);
        ch.pipeline().fireChannelReadComplete();
        assertThat(flushes.count).isEqualTo(1); // nothing left to flush
        ch.readInbound();
    }

    @Test
    void heldFlushesAreMadeBeforeTheConnectionCloses() {
        writeAndFlush("goaway");
        ch.close();
        assertThat(flushes.count).isEqualTo(1);
        assertThat((Object) ch.readOutbound()).isEqualTo("goaway");
    }

    @Test
    void heldFlushesAreMadeWhenTheHandlerLeaves() {
        writeAndFlush("a");
        ch.pipeline().remove(FlushConsolidator.class);
        assertThat(flushes.count).isEqualTo(1);
        assertThat((Object) ch.readOutbound()).isEqualTo("a");
        ch.runPendingTasks(); // the task queued earlier finds nothing held
        assertThat(flushes.count).isEqualTo(1);
    }
}
