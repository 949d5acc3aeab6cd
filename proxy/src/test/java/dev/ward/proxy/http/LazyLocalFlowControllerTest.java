package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.DefaultHttp2LocalFlowController;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameWriter;
import io.netty.handler.codec.http2.Http2LocalFlowController;
import io.netty.handler.codec.http2.Http2Stream;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * {@link LazyLocalFlowController} against Netty's {@link DefaultHttp2LocalFlowController}: the same
 * streams, DATA frames, consumed bytes, window changes and closes, over random runs, give the same
 * windows, the same WINDOW_UPDATE frames and the same errors; and a stream that receives no DATA
 * has no state.
 */
class LazyLocalFlowControllerTest extends FlowControlSide.Test<LazyLocalFlowControllerTest.Side> {

    /** One side: a connection with its controller, and the WINDOW_UPDATEs written. */
    static final class Side extends FlowControlSide<Side> {
        final Http2LocalFlowController flow;
        final List<String> updates = new ArrayList<>();

        Side(Function<Http2Connection, Http2LocalFlowController> make) throws Http2Exception {
            flow = make.apply(connection);
            connection.local().flowController(flow);
            flow.frameWriter((Http2FrameWriter) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {Http2FrameWriter.class},
                    (proxy, method, args) -> {
                        if (method.getName().equals("writeWindowUpdate")) {
                            updates.add(args[1] + ":" + args[2]);
                            return args[3];
                        }
                        throw new UnsupportedOperationException(method.getName());
                    }));
            flow.channelHandlerContext(channel.pipeline().firstContext());
        }

        @Override
        Side self() {
            return this;
        }

        /** Every window's state, and the updates written so far. */
        @Override
        String describe() {
            StringBuilder sb = new StringBuilder(" | conn ").append(state(connection.connectionStream()));
            for (Http2Stream s : streams) {
                sb.append(" | ").append(s.id()).append(' ').append(s.state()).append(' ').append(state(s));
            }
            return sb.append(" | updates ").append(updates).toString();
        }

        String state(Http2Stream s) {
            return flow.windowSize(s) + "/" + flow.initialWindowSize(s) + "/" + flow.unconsumedBytes(s);
        }
    }

    interface Op extends FlowControlSide.Op<Side> {
    }

    Side side(Function<Http2Connection, Http2LocalFlowController> make) throws Http2Exception {
        return keep(new Side(make));
    }

    static Http2LocalFlowController netty(Http2Connection c) {
        return new DefaultHttp2LocalFlowController(c);
    }

    @Test
    void sameWindowsUpdatesAndErrorsAsNettysOverRandomRuns() throws Exception {
        int compared = 0;
        int errors = 0;
        int updates = 0;
        for (int seed = 0; seed < 200; seed++) {
            Side n = side(LazyLocalFlowControllerTest::netty);
            Side w = side(LazyLocalFlowController::new);
            Random r = new Random(seed);
            int nextId = 1;
            for (int step = 0; step < 150; step++) {
                int kind = r.nextInt(12);
                Op op;
                if (kind == 0 || n.streams.isEmpty()) {
                    int id = nextId;
                    boolean halfClosed = r.nextInt(3) == 0; // a request that ends with its HEADERS
                    nextId += 2;
                    op = side -> {
                        side.streams.add(side.connection.remote().createStream(id, halfClosed));
                        return id;
                    };
                } else {
                    int i = r.nextInt(n.streams.size());
                    switch (kind) {
                        case 1, 2, 3 -> { // a DATA frame, sometimes more than the window allows, sometimes ending the stream
                            int len = r.nextInt(5) == 0 ? r.nextInt(200_000) : r.nextInt(20_000);
                            int padding = r.nextInt(4) == 0 ? r.nextInt(256) : 0;
                            boolean end = r.nextInt(5) == 0;
                            op = side -> {
                                Http2Stream s = side.streams.get(i);
                                side.flow.receiveFlowControlledFrame(s, Unpooled.wrappedBuffer(new byte[len]), padding, end);
                                if (end && s.state() != Http2Stream.State.CLOSED) { // as the decoder, which closes the remote side
                                    if (s.state() == Http2Stream.State.OPEN || s.state() == Http2Stream.State.HALF_CLOSED_LOCAL) {
                                        s.closeRemoteSide();
                                    }
                                }
                                return len;
                            };
                        }
                        case 4, 5, 6 -> { // the stream's user consumes what it read, or more than it has
                            int extra = r.nextInt(6) == 0 ? 1 + r.nextInt(100) : 0;
                            op = side -> {
                                Http2Stream s = side.streams.get(i);
                                int m = side.flow.unconsumedBytes(s);
                                int k = Math.min(m, 1 + (m > 0 ? new Random(m).nextInt(m) : 0)) + extra;
                                return side.flow.consumeBytes(s, k);
                            };
                        }
                        case 7 -> { // the connection's window widened (Http2Streams.widenConnectionWindow), or a stream's
                            int delta = r.nextInt(300_000);
                            boolean conn = r.nextBoolean();
                            op = side -> {
                                side.flow.incrementWindowSize(conn ? side.connection.connectionStream() : side.streams.get(i), delta);
                                return delta;
                            };
                        }
                        case 8 -> { // the peer acknowledged a SETTINGS frame with another initial window
                            int size = r.nextInt(3) == 0 ? r.nextInt(1_000) : r.nextInt(1 << 20);
                            op = side -> {
                                side.flow.initialWindowSize(size);
                                return size;
                            };
                        }
                        case 9 -> op = side -> { // reset, or ended both ways
                            side.streams.get(i).close();
                            return "closed";
                        };
                        case 10 -> { // a DATA frame for a stream gone, or a window for a frame that is not a stream's
                            int len = r.nextInt(10_000);
                            op = side -> {
                                Http2Stream s = side.streams.get(i);
                                side.flow.receiveFlowControlledFrame(s.state() == Http2Stream.State.CLOSED ? s : null,
                                        Unpooled.wrappedBuffer(new byte[len]), 0, false);
                                return len;
                            };
                        }
                        default -> op = side -> side.flow.windowSize(side.streams.get(i));
                    }
                }
                String a = n.run(op);
                String b = w.run(op);
                assertThat(b).as("seed %d step %d", seed, step).isEqualTo(a);
                compared++;
                if (!a.startsWith("ok")) {
                    errors++;
                }
            }
            updates += n.updates.size();
        }
        assertThat(compared).isEqualTo(200 * 150);
        assertThat(errors).as("errors compared too").isGreaterThan(100);
        assertThat(updates).as("WINDOW_UPDATEs compared too").isGreaterThan(1_000);
    }

    @Test
    void aStreamWithoutDataHasNoStateAndOneWithDataGivesItsWindowBack() throws Exception {
        Side w = side(LazyLocalFlowController::new);
        Http2Stream get = w.connection.remote().createStream(1, true);
        assertThat(w.flow.windowSize(get)).isEqualTo(65_535);
        Http2Stream post = w.connection.remote().createStream(3, false);
        w.flow.receiveFlowControlledFrame(post, Unpooled.wrappedBuffer(new byte[40_000]), 0, false);
        assertThat(w.flow.windowSize(post)).isEqualTo(25_535);
        assertThat(w.flow.unconsumedBytes(post)).isEqualTo(40_000);
        var field = LazyLocalFlowController.class.getDeclaredField("windows");
        field.setAccessible(true);
        assertThat(((java.util.Map<Integer, ?>) field.get(w.flow)).keySet()).as("a state for the stream with DATA only").containsExactly(3);
        assertThat(w.flow.consumeBytes(post, 40_000)).as("past half the window: a WINDOW_UPDATE").isTrue();
        assertThat(w.updates).as("the connection's, then the stream's").containsExactly("0:40000", "3:40000");
        post.close();
        assertThat(((java.util.Map<?, ?>) field.get(w.flow)).isEmpty()).as("let go as it closes").isTrue();

        // Half the window (rounded down, 32,767 B) left unconsumed is the point where it is given back.
        Http2Stream under = w.connection.remote().createStream(5, false);
        w.flow.receiveFlowControlledFrame(under, Unpooled.wrappedBuffer(new byte[32_767]), 0, false);
        assertThat(w.flow.consumeBytes(under, 32_767)).isFalse();
        Http2Stream at = w.connection.remote().createStream(7, false);
        w.flow.receiveFlowControlledFrame(at, Unpooled.wrappedBuffer(new byte[32_768]), 0, false);
        w.flow.consumeBytes(at, 32_768);
        assertThat(w.updates).contains("7:32768").noneMatch(u -> u.startsWith("5:"));
    }
}
