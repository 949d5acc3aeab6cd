package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http2.DefaultHttp2Connection;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.StreamByteDistributor;
import io.netty.handler.codec.http2.UniformStreamByteDistributor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * {@link TakeTurnsDistributor} against Netty's {@link UniformStreamByteDistributor}: the same
 * streams, frames, windows and closes, the same writes (stream, bytes) in the same order and the
 * same answers, over random runs; and the cases that matter spelled out.
 */
class TakeTurnsDistributorTest {

    /** A stream's send state as the remote flow controller keeps it, reduced to what a distributor reads. */
    static final class State implements StreamByteDistributor.StreamState {
        final Http2Stream stream;
        long pending;
        int window;
        /** An empty frame (one that ends the stream) waits, besides any bytes. */
        boolean emptyFrame;

        State(Http2Stream stream, int window) {
            this.stream = stream;
            this.window = window;
        }

        @Override
        public Http2Stream stream() {
            return stream;
        }

        @Override
        public long pendingBytes() {
            return pending;
        }

        @Override
        public boolean hasFrame() {
            return pending > 0 || emptyFrame;
        }

        @Override
        public int windowSize() {
            return window;
        }
    }

    /** One side of the comparison: a connection, its distributor and its streams' states, and the writes made. */
    static final class Side {
        final Http2Connection connection = new DefaultHttp2Connection(true);
        final StreamByteDistributor distributor;
        final List<State> states = new ArrayList<>();
        final List<String> writes = new ArrayList<>();

        Side(Function<Http2Connection, StreamByteDistributor> make) {
            distributor = make.apply(connection);
        }

        State open(int id, int window) throws Http2Exception {
            State s = new State(connection.remote().createStream(id, false), window);
            states.add(s);
            return s;
        }

        /** As the flow controller's write: the frames' bytes go, the window shrinks, the distributor hears. */
        void write(Http2Stream stream, int bytes) {
            writes.add(stream.id() + ":" + bytes);
            State s = states.stream().filter(x -> x.stream == stream).findFirst().orElseThrow();
            int n = (int) Math.min(bytes, s.pending);
            s.pending -= n;
            s.window -= n;
            if (s.pending == 0) {
                s.emptyFrame = false; // the last frame (empty, or the end of the bytes) is written
            }
            distributor.updateStreamableBytes(s);
        }

        boolean distribute(int maxBytes) throws Http2Exception {
            return distributor.distribute(maxBytes, this::write);
        }
    }

    final Side netty = new Side(UniformStreamByteDistributor::new);
    final Side ward = new Side(TakeTurnsDistributor::new);

    interface Step {
        void on(Side side, State s) throws Http2Exception;
    }

    void both(int index, Step step) throws Http2Exception {
        for (Side side : List.of(netty, ward)) {
            State s = side.states.get(index);
            step.on(side, s);
            side.distributor.updateStreamableBytes(s);
        }
    }

    /** Stream {@code id} opened on both sides, with a send window of {@code window}. */
    void openBoth(int id, int window) throws Http2Exception {
        netty.open(id, window);
        ward.open(id, window);
    }

    void distributeBoth(int maxBytes) throws Http2Exception {
        boolean a = netty.distribute(maxBytes);
        boolean b = ward.distribute(maxBytes);
        assertThat(ward.writes).isEqualTo(netty.writes);
        assertThat(b).as("more to send").isEqualTo(a);
    }

    @Test
    void sameWritesAsNettysOverRandomRuns() throws Exception {
        for (int seed = 0; seed < 300; seed++) {
            Side n = new Side(UniformStreamByteDistributor::new);
            Side w = new Side(TakeTurnsDistributor::new);
            Random r = new Random(seed);
            int nextId = 1;
            for (int step = 0; step < 200; step++) {
                int op = r.nextInt(10);
                if (op == 0 || n.states.isEmpty()) {
                    int window = r.nextInt(5) == 0 ? 0 : r.nextInt(70_000);
                    n.open(nextId, window);
                    w.open(nextId, window);
                    nextId += 2;
                    continue;
                }
                int i = r.nextInt(n.states.size());
                State a = n.states.get(i);
                State b = w.states.get(i);
                if (a.stream.state() == Http2Stream.State.CLOSED) {
                    continue;
                }
                switch (op) {
                    case 1, 2, 3 -> { // a frame queued: bytes, or an empty one
                        int bytes = r.nextInt(4) == 0 ? 0 : r.nextInt(40_000);
                        for (State s : List.of(a, b)) {
                            s.pending += bytes;
                            s.emptyFrame |= bytes == 0;
                        }
                    }
                    case 4, 5 -> { // WINDOW_UPDATE, or a SETTINGS change that may shut the window
                        int delta = op == 4 ? r.nextInt(30_000) : r.nextInt(60_000) - 40_000;
                        a.window += delta;
                        b.window += delta;
                    }
                    case 6 -> { // closed (or reset): what was queued is dropped, as the flow controller cancels it
                        for (State s : List.of(a, b)) {
                            s.pending = 0;
                            s.emptyFrame = false;
                        }
                        a.stream.close();
                        b.stream.close();
                    }
                    default -> {
                        int max = r.nextInt(4) == 0 ? 0 : r.nextInt(50_000);
                        boolean more = n.distribute(max);
                        boolean more2 = w.distribute(max);
                        assertThat(w.writes).as("seed %d step %d", seed, step).isEqualTo(n.writes);
                        assertThat(more2).as("seed %d step %d: more to send", seed, step).isEqualTo(more);
                        continue;
                    }
                }
                n.distributor.updateStreamableBytes(a);
                w.distributor.updateStreamableBytes(b);
            }
            assertThat(w.writes).isEqualTo(n.writes);
            assertThat(n.writes).as("a run that wrote nothing compares nothing").isNotEmpty();
        }
    }

    @Test
    void streamsTakeEqualSharesInTurnAndOneWithMoreGoesToTheBack() throws Exception {
        for (int id : new int[] {1, 3, 5}) {
            openBoth(id, 65_535);
        }
        both(0, (side, s) -> s.pending = 20_000);
        both(1, (side, s) -> s.pending = 500);
        both(2, (side, s) -> s.pending = 9_000);
        distributeBoth(12_000); // 4,000 each at most: 4,000 / 500 / 4,000, then 1 and 5 again with what is left
        assertThat(ward.writes).containsExactly("1:4000", "3:500", "5:4000", "1:3500");
        distributeBoth(0); // nothing may go: more to send, nothing written
        assertThat(ward.writes).hasSize(4);
        assertThat(ward.distribute(100_000)).as("all sent").isFalse();
        assertThat(ward.writes).containsExactly("1:4000", "3:500", "5:4000", "1:3500", "5:5000", "1:12500");
    }

    @Test
    void anEmptyFrameGoesOnAShutWindowAndAShutStreamWaitsForItsWindow() throws Exception {
        openBoth(1, 0);
        openBoth(3, 10);
        both(0, (side, s) -> s.emptyFrame = true);
        both(1, (side, s) -> s.pending = 100);
        both(1, (side, s) -> s.window = -5); // a SETTINGS change shut it
        distributeBoth(1_000);
        assertThat(ward.writes).containsExactly("1:0");
        both(1, (side, s) -> s.window = 50);
        distributeBoth(1_000);
        assertThat(ward.writes).containsExactly("1:0", "3:50");
    }

    @Test
    void aClosedStreamLeavesTheQueue() throws Exception {
        openBoth(1, 65_535);
        openBoth(3, 65_535);
        both(0, (side, s) -> s.pending = 100);
        both(1, (side, s) -> s.pending = 100);
        both(0, (side, s) -> {
            s.pending = 0;
            s.stream.close();
        });
        distributeBoth(1_000);
        assertThat(ward.writes).containsExactly("3:100");
    }
}
