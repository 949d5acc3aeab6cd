package dev.ward.proxy.http;

import io.netty.channel.embedded.EmbeddedChannel;

/** Two embedded channels as the two ends of one connection: what each writes is handed to the other as read. */
final class InMemoryWire {

    private InMemoryWire() {
    }

    /** Hands each side's bytes (and those its pending tasks flush) to the other until neither has any left. */
    static void pump(EmbeddedChannel a, EmbeddedChannel b) {
        for (boolean moved = true; moved; ) {
            moved = false;
            a.runPendingTasks();
            for (Object m; (m = a.readOutbound()) != null; moved = true) {
                b.writeInbound(m);
            }
            b.runPendingTasks();
            for (Object m; (m = b.readOutbound()) != null; moved = true) {
                a.writeInbound(m);
            }
        }
    }
}
