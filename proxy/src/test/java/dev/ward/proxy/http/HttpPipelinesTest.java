package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ward.proxy.config.SidecarConfig;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2RemoteFlowController;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.UniformStreamByteDistributor;
import java.util.List;
import java.nio.charset.StandardCharsets;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

class HttpPipelinesTest {

    final SidecarConfig.Limits limits = new SidecarConfig.Limits(null, null, null, null, null, null, null);
    final Supplier<ProxyHandler> handler = () -> new ProxyHandler((c, r) -> null, false, "test", new Drain(),
            new dev.ward.telemetry.RequestTelemetry(dev.ward.telemetry.RequestTelemetry.Direction.OUTBOUND,
                    dev.ward.telemetry.tracing.Tracing.start(dev.ward.telemetry.tracing.Tracing.Settings.none("app", "test")),
                    new dev.ward.telemetry.metrics.WardMetrics("test"), null, "app"));

    @Test
    void http2ConnectionsGetWideReceiveWindows() {
        EmbeddedChannel ch = new EmbeddedChannel();
        HttpPipelines.http2(ch.pipeline(), limits, handler);
        Http2FrameCodec codec = ch.pipeline().get(Http2FrameCodec.class);
        var local = codec.connection().local().flowController();
        assertThat(local.windowSize(codec.connection().connectionStream())).isEqualTo(HttpPipelines.H2_CONNECTION_WINDOW);
        // The SETTINGS sent (applied once the peer acknowledges them).
        assertThat(codec.encoder().pollSentSettings().initialWindowSize()).isEqualTo(HttpPipelines.H2_STREAM_WINDOW);
        ch.finishAndReleaseAll();
    }

    @Test
    void http2CodecsKnowTheirSideAndShareTheSendWindowInTurn() throws Exception {
        Http2FrameCodec server = HttpPipelines.h2Codec(true).build();
        Http2FrameCodec client = HttpPipelines.h2Codec(false).build();
        assertThat(server.connection().isServer()).isTrue();
        assertThat(client.connection().isServer()).isFalse();
        for (Http2FrameCodec c : List.of(server, client)) {
            var flow = c.connection().remote().flowController();
            assertThat(flow).isInstanceOf(DefaultHttp2RemoteFlowController.class);
            var distributor = DefaultHttp2RemoteFlowController.class.getDeclaredField("streamByteDistributor");
            distributor.setAccessible(true);
            assertThat(distributor.get(flow)).isInstanceOf(UniformStreamByteDistributor.class);
        }
    }

    @Test
    void cleartextListenersTellHttp2PriorKnowledgeFromHttp11() {
        EmbeddedChannel h2 = new EmbeddedChannel();
        HttpPipelines.cleartext(h2.pipeline(), limits, handler, handler);
        // The preface arrives in two pieces: nothing is decided on the first.
        h2.writeInbound(Unpooled.copiedBuffer("PRI * HTTP/2.0\r\n", StandardCharsets.US_ASCII));
        assertThat(h2.pipeline().get("protocol")).isNotNull();
        h2.writeInbound(Unpooled.copiedBuffer("\r\nSM\r\n\r\n", StandardCharsets.US_ASCII));
        assertThat(h2.pipeline().get("protocol")).isNull();
        assertThat(h2.pipeline().get(Http2FrameCodec.class)).isNotNull();
        assertThat(h2.pipeline().get(Http1ServerCodec.class)).isNull();
        h2.finishAndReleaseAll();

        EmbeddedChannel h1 = new EmbeddedChannel();
        HttpPipelines.cleartext(h1.pipeline(), limits, handler, handler);
        h1.writeInbound(Unpooled.copiedBuffer("PUT / HTTP/1.1\r\n", StandardCharsets.US_ASCII)); // starts like the preface, then differs
        assertThat(h1.pipeline().get(Http1ServerCodec.class)).isNotNull();
        assertThat(h1.pipeline().get(Http2FrameCodec.class)).isNull();
        h1.finishAndReleaseAll();
    }
}
