package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.timeout.IdleStateEvent;
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
    void idleCloserClosesOnIdleEventsOnly() {
        EmbeddedChannel ch = new EmbeddedChannel(IdleCloser.INSTANCE);
        ch.pipeline().fireUserEventTriggered("something else");
        assertThat(ch.isOpen()).isTrue();
        ch.pipeline().fireUserEventTriggered(IdleStateEvent.ALL_IDLE_STATE_EVENT);
        assertThat(ch.isOpen()).isFalse();
    }
}
