package dev.ward.proxy.http;

import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2Connection;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;

/**
 * One side of a differential test of one of Ward's flow controllers against Netty's
 * ({@code LazyLocalFlowControllerTest}, {@code CompactRemoteFlowControllerTest}): a server's
 * connection, a channel whose context the controller writes with, the streams opened, and one
 * operation at a time run on it, described so that the two sides' descriptions can be compared.
 */
abstract class FlowControlSide<S extends FlowControlSide<S>> {

    /** One step of a run, done alike on each side. */
    interface Op<S> {
        Object on(S side) throws Http2Exception;
    }

    final Http2Connection connection = new DefaultHttp2Connection(true);
    final EmbeddedChannel channel = new EmbeddedChannel(new ChannelInboundHandlerAdapter());
    final List<Http2Stream> streams = new ArrayList<>();

    /** This side, as its own type. */
    abstract S self();

    /** The side's state after a step: its windows, and what its controller wrote or told. */
    abstract String describe();

    /** What one step did: its answer, or its error's type (and HTTP/2 code) and message; then {@link #describe}. */
    String run(Op<S> op) {
        String outcome;
        try {
            outcome = "ok " + op.on(self());
        } catch (Http2Exception e) {
            outcome = e.getClass().getSimpleName() + " " + e.error() + " " + e.getMessage();
        } catch (RuntimeException e) {
            outcome = e.getClass().getSimpleName() + " " + e.getMessage();
        }
        return outcome + describe();
    }

    void close() {
        for (Object m; (m = channel.readOutbound()) != null; ) {
            ReferenceCountUtil.release(m);
        }
        channel.finishAndReleaseAll();
    }

    /** A differential test's sides, closed after each test. */
    abstract static class Test<S extends FlowControlSide<S>> {
        private final List<S> sides = new ArrayList<>();

        /** {@code side}, closed after the test. */
        final S keep(S side) {
            sides.add(side);
            return side;
        }

        @AfterEach
        final void closeSides() {
            sides.forEach(FlowControlSide::close);
        }
    }
}
