package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.channel.ChannelInitializer;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.Http2HeadersEncoder;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import org.junit.jupiter.api.Test;

class StreamReadsTest {

    /** Up to 16 frames per read loop, none while auto-read is off: what Netty's default decided for a stream. */
    @Test
    @SuppressWarnings("deprecation")
    void aStreamReadsSixteenFramesPerLoopAndNoneWithAutoReadOff() {
        EmbeddedChannel ch = new EmbeddedChannel();
        RecvByteBufAllocator.ExtendedHandle handle = (RecvByteBufAllocator.ExtendedHandle) StreamReads.INSTANCE.newHandle();
        handle.reset(ch.config());
        for (int i = 0; i < StreamReads.MAX_MESSAGES_PER_READ; i++) {
            assertThat(handle.continueReading()).as("after %d frames", i).isTrue();
            handle.incMessagesRead(1);
        }
        assertThat(handle.continueReading()).isFalse();
        assertThat(handle.continueReading(() -> true)).isFalse();
        handle.reset(ch.config());
        assertThat(handle.continueReading()).as("a new loop").isTrue();
        ch.config().setAutoRead(false);
        assertThat(handle.continueReading()).as("auto-read off: the proxy is holding the stream back").isFalse();
        assertThat(StreamReads.INSTANCE.newHandle()).as("a handle per stream").isNotSameAs(handle);
        assertThatThrownBy(() -> StreamReads.INSTANCE.maxMessagesPerRead(4)).isInstanceOf(UnsupportedOperationException.class);
        ch.finishAndReleaseAll();
    }

    /** Both kinds of stream a sidecar has, the ones it opens and the ones it accepts, read this way. */
    @Test
    void everyStreamWithHeadsToHttp2ReadsThisWay() throws Exception {
        EmbeddedChannel conn = new EmbeddedChannel();
        conn.pipeline().addLast(HttpPipelines.h2Codec(false, Http2Settings.defaultSettings(), Http2HeadersEncoder.NEVER_SENSITIVE), new Http2MultiplexHandler(new ChannelInitializer<>() {
            @Override
            protected void initChannel(io.netty.channel.Channel ch) {
            }
        }));
        Http2StreamChannel opened = new Http2StreamChannelBootstrap(conn).handler(HeadsToHttp2.CLIENT).open().sync().getNow();
        assertThat((Object) opened.config().getRecvByteBufAllocator()).isSameAs(StreamReads.INSTANCE);
        assertThat(opened.config().getMaxMessagesPerRead()).isEqualTo(16);

        Http2StreamChannel plain = new Http2StreamChannelBootstrap(conn).handler(new ChannelInitializer<>() {
            @Override
            protected void initChannel(io.netty.channel.Channel ch) {
            }
        }).open().sync().getNow();
        assertThat((Object) plain.config().getRecvByteBufAllocator()).as("Netty's default elsewhere").isNotSameAs(StreamReads.INSTANCE);
        conn.finishAndReleaseAll();
    }
}
