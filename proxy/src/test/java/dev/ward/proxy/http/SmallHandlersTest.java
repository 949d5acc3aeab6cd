package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** EmbeddedChannel tests for the connection-level guards. */
class SmallHandlersTest {

    @Test
    void headerReadTimeoutClosesASilentConnection() {
        EmbeddedChannel ch = new EmbeddedChannel(new HeaderReadTimeoutHandler(Duration.ofSeconds(10)));
        ch.advanceTimeBy(9, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertThat(ch.isOpen()).isTrue();
        ch.advanceTimeBy(2, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void headerReadTimeoutStepsAsideOnceARequestHeadArrives() {
        EmbeddedChannel ch = new EmbeddedChannel(new HeaderReadTimeoutHandler(Duration.ofSeconds(10)));
        ch.writeInbound(new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/"));
        assertThat(ch.pipeline().get(HeaderReadTimeoutHandler.class)).isNull();
        ch.advanceTimeBy(60, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertThat(ch.isOpen()).isTrue();
        Object passedOn = ch.readInbound();
        assertThat(passedOn).isNotNull(); // the request was passed on
        assertThat(ch.finishAndReleaseAll()).isFalse();
    }

    @Test
    void connectionLimiterClosesConnectionsOverTheLimitAndCountsClosesBack() {
        ConnectionLimiter limiter = new ConnectionLimiter("test", 2);
        EmbeddedChannel one = new EmbeddedChannel(limiter);
        EmbeddedChannel two = new EmbeddedChannel(limiter);
        EmbeddedChannel three = new EmbeddedChannel(limiter);
        assertThat(one.isOpen()).isTrue();
        assertThat(two.isOpen()).isTrue();
        assertThat(three.isOpen()).isFalse();
        assertThat(limiter.open()).isEqualTo(2);
        one.close();
        assertThat(limiter.open()).isEqualTo(1);
        assertThat(new EmbeddedChannel(limiter).isOpen()).isTrue();
    }

    @Test
    void idleTimeoutClosesAConnectionThatNeitherReadsNorFlushes() {
        EmbeddedChannel ch = new EmbeddedChannel(new IdleTimeout(Duration.ofSeconds(10)));
        idle(ch, 9);
        assertThat(ch.isOpen()).isTrue();
        idle(ch, 2);
        assertThat(ch.isOpen()).as("11 s without traffic").isFalse();
    }

    @Test
    void readsAndFlushesKeepAConnectionOpenAndTheTimeoutCountsFromTheLastOfThem() {
        EmbeddedChannel ch = new EmbeddedChannel(new IdleTimeout(Duration.ofSeconds(10)));
        idle(ch, 6);
        ch.writeInbound("request"); // read at 6 s
        idle(ch, 6);
        assertThat(ch.isOpen()).as("6 s after a read").isTrue();
        ch.writeOutbound("response"); // write and flush at 12 s
        idle(ch, 9);
        assertThat(ch.isOpen()).as("9 s after a flush").isTrue();
        idle(ch, 2);
        assertThat(ch.isOpen()).as("11 s after the last flush").isFalse();
        assertThat((Object) ch.readInbound()).isEqualTo("request");
        assertThat((Object) ch.readOutbound()).isEqualTo("response");
    }

    @Test
    void anHttp2ConnectionWithAStreamOpenIsNotIdleAndOneWithoutIsClosed() {
        Http2Streams codec = HttpPipelines.h2ClientStreams(8192);
        EmbeddedChannel ch = new EmbeddedChannel(new IdleTimeout(Duration.ofSeconds(10)), codec);
        io.netty.handler.codec.http2.Http2Stream stream;
        try {
            stream = codec.connection().local().createStream(1, false); // a request sent, its response awaited
        } catch (io.netty.handler.codec.http2.Http2Exception e) {
            throw new AssertionError(e);
        }
        assertThat(codec.connection().numActiveStreams()).isEqualTo(1);
        idle(ch, 25);
        assertThat(ch.isOpen()).as("a response still awaited after 25 s: the stream timeouts' business").isTrue();

        stream.close();
        idle(ch, 11);
        assertThat(ch.isOpen()).as("no stream open, 11 s without traffic").isFalse();
        ch.finishAndReleaseAll();
    }

    @Test
    void anIdleTimeoutWriteKeepsItsVoidPromise() {
        // What IdleTimeout is for: Netty's IdleStateHandler made every write's promise a real one.
        EmbeddedChannel ch = new EmbeddedChannel(new IdleTimeout(Duration.ofSeconds(10)));
        io.netty.channel.ChannelPromise[] seen = new io.netty.channel.ChannelPromise[1];
        ch.pipeline().addFirst(new io.netty.channel.ChannelOutboundHandlerAdapter() {
            @Override
            public void write(io.netty.channel.ChannelHandlerContext ctx, Object msg, io.netty.channel.ChannelPromise p) {
                seen[0] = p;
                ctx.write(msg, p);
            }
        });
        ch.writeAndFlush("x", ch.voidPromise());
        assertThat(seen[0].isVoid()).isTrue();
        ch.finishAndReleaseAll();
    }

    private static void idle(EmbeddedChannel ch, int seconds) {
        ch.advanceTimeBy(seconds, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
    }
}
