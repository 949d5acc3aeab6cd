package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.DefaultHttp2RemoteFlowController;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2RemoteFlowController;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.UniformStreamByteDistributor;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * {@link CompactRemoteFlowController} against Netty's {@link DefaultHttp2RemoteFlowController}
 * (each with its distributor: Netty's {@link UniformStreamByteDistributor}, Ward's
 * {@link TakeTurnsDistributor}): the same streams, frames (merging, failing, empty), window
 * updates, SETTINGS changes, closes, busy channels and passes give the same writes, completions,
 * errors, windows and writability, and the listener hears the same, in the same order, over random
 * runs; and a stream keeps no queue until a second frame waits.
 */
class CompactRemoteFlowControllerTest extends FlowControlSide.Test<CompactRemoteFlowControllerTest.Side> {

    /** A frame as the encoder hands one to the flow controller, which logs what is done with it. */
    static final class Frame implements Http2RemoteFlowController.FlowControlled {
        final List<String> log;
        final String name;
        int size;
        final boolean mergeable;
        final boolean poison;
        /** Closes its stream as it completes, as a frame that ends a stream whose peer has ended does (or null). */
        Http2Stream closes;

        Frame(List<String> log, String name, int size, boolean mergeable, boolean poison) {
            this.log = log;
            this.name = name;
            this.size = size;
            this.mergeable = mergeable;
            this.poison = poison;
        }

        @Override
        public int size() {
            return size;
        }

        @Override
        public void error(ChannelHandlerContext ctx, Throwable cause) {
            log.add("error " + name + " " + cause.getClass().getSimpleName() + " "
                    + (cause instanceof Http2Exception e ? e.error() + " " : "") + cause.getMessage());
        }

        @Override
        public void writeComplete() {
            log.add("complete " + name);
            if (closes != null) {
                closes.close(); // while the flow controller is still writing the stream's frames
            }
        }

        @Override
        public void write(ChannelHandlerContext ctx, int allowedBytes) {
            if (poison) {
                throw new IllegalStateException("poisoned " + name);
            }
            int n = Math.min(size, allowedBytes);
            size -= n;
            log.add("write " + name + " " + n);
        }

        @Override
        public boolean merge(ChannelHandlerContext ctx, Http2RemoteFlowController.FlowControlled next) {
            if (mergeable && next instanceof Frame f && f.mergeable && !f.poison) {
                size += f.size;
                log.add("merge " + f.name + " into " + name);
                return true;
            }
            return false;
        }
    }

    /** One side: a connection with its controller, and what was done with its frames and told its listener. */
    static final class Side extends FlowControlSide<Side> {
        final Http2RemoteFlowController flow;
        final List<String> log = new ArrayList<>();

        Side(Function<Http2Connection, Http2RemoteFlowController> make) throws Http2Exception {
            flow = make.apply(connection);
            connection.remote().flowController(flow);
            flow.listener(stream -> log.add("writability " + stream.id() + " " + flow.isWritable(stream)));
            flow.channelHandlerContext(channel.pipeline().firstContext());
        }

        @Override
        Side self() {
            return this;
        }

        /** The windows and writability of the connection and its open streams, and the log of this step. */
        @Override
        String describe() {
            StringBuilder sb = new StringBuilder(" | conn ").append(flow.windowSize(connection.connectionStream()));
            for (Http2Stream s : streams) {
                if (s.state() != Http2Stream.State.CLOSED) {
                    sb.append(" | ").append(s.id()).append(' ').append(s.state()).append(' ').append(flow.windowSize(s))
                            .append(' ').append(flow.isWritable(s)).append(' ').append(flow.hasFlowControlled(s));
                }
            }
            sb.append(" | log ").append(log);
            log.clear();
            return sb.toString();
        }
    }

    interface Op extends FlowControlSide.Op<Side> {
    }

    Side side(Function<Http2Connection, Http2RemoteFlowController> make) throws Http2Exception {
        return keep(new Side(make));
    }

    static Http2RemoteFlowController netty(Http2Connection c) {
        return new DefaultHttp2RemoteFlowController(c, new UniformStreamByteDistributor(c));
    }

    static Http2RemoteFlowController ward(Http2Connection c) {
        return new CompactRemoteFlowController(c, new TakeTurnsDistributor(c));
    }

    @Test
    void sameAsNettysOverRandomRuns() throws Exception {
        int writes = 0;
        int notices = 0;
        int errors = 0;
        for (int seed = 0; seed < 200; seed++) {
            Side n = side(CompactRemoteFlowControllerTest::netty);
            Side w = side(CompactRemoteFlowControllerTest::ward);
            Random r = new Random(seed);
            int nextId = 1;
            int frameNo = 0;
            for (int step = 0; step < 150; step++) {
                int kind = r.nextInt(14);
                Op op;
                if (kind == 0 || n.streams.isEmpty()) {
                    int id = nextId;
                    nextId += 2;
                    op = side -> {
                        side.streams.add(side.connection.remote().createStream(id, false));
                        return id;
                    };
                } else {
                    int i = r.nextInt(n.streams.size());
                    switch (kind) {
                        case 1, 2, 3, 4 -> { // a frame for the window: bytes or empty, mergeable or not, now and then one whose write fails
                            String name = "f" + frameNo++;
                            int size = r.nextInt(5) == 0 ? 0 : r.nextInt(r.nextBoolean() ? 2_000 : 60_000);
                            boolean mergeable = r.nextInt(3) == 0;
                            boolean poison = r.nextInt(40) == 0;
                            boolean closing = r.nextInt(6) == 0;
                            op = side -> {
                                Http2Stream s = side.streams.get(i);
                                if (s.state() == Http2Stream.State.CLOSED) {
                                    return "closed"; // the encoder refuses a frame for a closed stream before this
                                }
                                Frame f = new Frame(side.log, name, size, mergeable && !closing, poison);
                                f.closes = closing ? s : null;
                                side.flow.addFlowControlled(s, f);
                                return name;
                            };
                        }
                        case 5, 6 -> op = side -> { // the flush: a pass of the distributor
                            side.flow.writePendingBytes();
                            return "flushed";
                        };
                        case 7 -> { // WINDOW_UPDATE for a stream or the connection (now and then one that overflows)
                            int delta = r.nextInt(20) == 0 ? Integer.MAX_VALUE - 10 : 1 + r.nextInt(70_000);
                            boolean conn = r.nextInt(3) == 0;
                            op = side -> {
                                Http2Stream s = conn ? side.connection.connectionStream() : side.streams.get(i);
                                if (s.state() == Http2Stream.State.CLOSED) {
                                    return "closed"; // the decoder drops it before this
                                }
                                side.flow.incrementWindowSize(s, delta);
                                return delta;
                            };
                        }
                        case 8 -> { // the peer's SETTINGS with another initial window
                            int size = r.nextInt(4) == 0 ? r.nextInt(100) : r.nextInt(200_000);
                            op = side -> {
                                side.flow.initialWindowSize(size);
                                return size;
                            };
                        }
                        case 9 -> op = side -> { // reset, or ended both ways
                            side.streams.get(i).close();
                            return "closed";
                        };
                        case 10 -> op = side -> { // this side sent its end (HEADERS with END_STREAM, say)
                            Http2Stream s = side.streams.get(i);
                            if (s.state() == Http2Stream.State.OPEN) {
                                s.closeLocalSide();
                            }
                            return s.state();
                        };
                        case 11 -> op = side -> { // the channel's buffer fills (writes not yet flushed), then the controller hears
                            side.channel.write(Unpooled.wrappedBuffer(new byte[100_000]));
                            side.flow.channelWritabilityChanged();
                            return side.channel.isWritable();
                        };
                        case 12 -> op = side -> { // the channel drains
                            side.channel.flush();
                            for (Object m; (m = side.channel.readOutbound()) != null; ) {
                                ReferenceCountUtil.release(m);
                            }
                            side.flow.channelWritabilityChanged();
                            return side.channel.isWritable();
                        };
                        default -> op = side -> side.flow.isWritable(side.streams.get(i));
                    }
                }
                String a = n.run(op);
                String b = w.run(op);
                assertThat(b).as("seed %d step %d", seed, step).isEqualTo(a);
                writes += count(a, "write ");
                notices += count(a, "writability ");
                errors += count(a, "error ");
            }
        }
        assertThat(writes).as("writes compared").isGreaterThan(1_000);
        assertThat(notices).as("writability notices compared").isGreaterThan(500);
        assertThat(errors).as("failed frames compared").isGreaterThan(100);
    }

    private static int count(String s, String what) {
        int n = 0;
        for (int at = s.indexOf(what); at >= 0; at = s.indexOf(what, at + 1)) {
            n++;
        }
        return n;
    }

    @Test
    void aStreamMakesNoQueueUntilASecondFrameWaits() throws Exception {
        Side w = side(CompactRemoteFlowControllerTest::ward);
        Http2Stream s = w.connection.remote().createStream(1, false);
        w.flow.initialWindowSize(10);
        w.flow.addFlowControlled(s, new Frame(w.log, "a", 25, false, false));
        w.flow.writePendingBytes();
        assertThat(w.log).contains("write a 10");
        var states = CompactRemoteFlowController.class.getDeclaredField("states");
        states.setAccessible(true);
        Object state = ((java.util.Map<?, ?>) states.get(w.flow)).get(1);
        var rest = state.getClass().getDeclaredField("rest");
        rest.setAccessible(true);
        assertThat(rest.get(state)).as("one frame waits: no queue").isNull();
        w.flow.addFlowControlled(s, new Frame(w.log, "b", 5, false, false));
        assertThat(rest.get(state)).as("a second waits behind it").isNotNull();
        w.flow.incrementWindowSize(s, 100);
        w.flow.writePendingBytes();
        assertThat(w.log).containsSubsequence("write a 10", "write a 15", "complete a", "write b 5", "complete b");
        s.close();
        assertThat(((java.util.Map<?, ?>) states.get(w.flow)).containsKey(1)).as("let go with the stream").isFalse();
    }
}
