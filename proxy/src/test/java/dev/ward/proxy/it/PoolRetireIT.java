package dev.ward.proxy.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ward.proxy.Sidecar;
import dev.ward.proxy.http.ConnectionPool;
import dev.ward.proxy.http.Upstream;
import io.netty.util.ReferenceCountUtil;
import dev.ward.proxy.testing.Await;
import dev.ward.proxy.testing.Sidecars;
import dev.ward.proxy.testing.TestApp;
import dev.ward.proxy.testing.TestPki;
import dev.ward.proxy.tls.TlsContexts;
import dev.ward.proxy.transport.Transports;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.SslProvider;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An endpoint that leaves DNS has its pool retired gracefully: a request in flight on it still
 * gets its whole response, and its connections close afterwards, over HTTP/1.1 and HTTP/2.
 */
class PoolRetireIT {

    /** A relay that ignores what a test does not ask about. */
    interface Relays extends Upstream.Relay {
        @Override
        default void readComplete(Upstream from) {
        }

        @Override
        default void writabilityChanged(Upstream from) {
        }

        @Override
        default void refused(Upstream from) {
        }
    }

    @TempDir
    Path tmp;

    final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());

    @AfterEach
    void tearDown() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }

    /** An app behind an inbound sidecar, and a pool of HTTP/2 (mutual TLS) connections to that sidecar. */
    static final class H2Upstream implements AutoCloseable {
        final TestApp app;
        final Sidecar orders;
        final TlsContexts tls;
        final ConnectionPool pool;

        H2Upstream(Path tmp) throws Exception {
            TestPki pki = new TestPki(tmp);
            Path client = pki.issue("client");
            app = new TestApp();
            orders = Sidecars.inbound(pki.issue("orders"), app.port(), "", TestPki.id("client"));
            tls = TlsContexts.load(new TlsContexts.Settings(client.resolve("tls.crt"), client.resolve("tls.key"),
                    client.resolve("ca.crt"), null, SslProvider.OPENSSL, Duration.ZERO), Clock.systemUTC());
            Supplier<io.netty.handler.ssl.SslContext> ctx = () -> tls.client(true);
            pool = new ConnectionPool(new ConnectionPool.Settings("orders",
                    new InetSocketAddress("127.0.0.1", orders.port("inbound")), ctx, TestPki.id("orders"), Duration.ofSeconds(2),
                    Duration.ofSeconds(5), Duration.ofSeconds(60), 8192, NioSocketChannel.class, "upstream_unavailable"));
        }

        @Override
        public void close() throws Exception {
            try (TestApp a = app; Sidecar o = orders; TlsContexts t = tls) {
                pool.close();
            }
        }
    }

    /** A pool of plain HTTP/1.1 connections to {@code app}. */
    static ConnectionPool http1Pool(TestApp app) {
        return new ConnectionPool(new ConnectionPool.Settings("app", new InetSocketAddress("127.0.0.1", app.port()),
                null, null, Duration.ofSeconds(2), Duration.ofSeconds(2), Duration.ofSeconds(60), 8192,
                NioSocketChannel.class, "app_unavailable"));
    }

    /** Sends GET {@code path} on an upstream from {@code pool}, retires the pool mid-flight, returns the status. */
    static int requestWhileRetiring(ConnectionPool pool, EventLoopGroup group, String path, CompletableFuture<Upstream> used)
            throws Exception {
        CompletableFuture<Integer> status = new CompletableFuture<>();
        group.next().execute(() -> pool.acquire(group.next()).addListener(f -> {
            if (!f.isSuccess()) {
                status.completeExceptionally(f.cause());
                return;
            }
            Upstream up = (Upstream) f.getNow();
            used.complete(up);
            int[] code = {0};
            up.relayTo(new Relays() {
                @Override
                public void read(Upstream from, Object msg) {
                    if (msg instanceof HttpResponse r) {
                        code[0] = r.status().code();
                    }
                    ReferenceCountUtil.release(msg);
                    if (msg instanceof LastHttpContent) {
                        up.relayTo(null); // as an exchange does before it gives an upstream back
                        pool.release(up, true);
                        status.complete(code[0]);
                    }
                }

                @Override
                public void inactive(Upstream from) {
                    status.completeExceptionally(new IllegalStateException("the upstream went before the response ended"));
                }
            });
            DefaultFullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path);
            req.headers().set(HttpHeaderNames.HOST, "orders").setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
            up.write(req);
            up.flush();
        }));
        Thread.sleep(200);
        pool.retireGracefully();
        return status.get(10, TimeUnit.SECONDS);
    }

    @Test
    void http1() throws Exception {
        try (TestApp app = new TestApp()) {
            ConnectionPool pool = http1Pool(app);
            CompletableFuture<Upstream> used = new CompletableFuture<>();
            assertThat(requestWhileRetiring(pool, group, "/slow?ms=600", used)).isEqualTo(200);
            Channel ch = used.get().connection();
            assertThat(ch.alloc()).as("the pool's connections share Ward's one buffer pool").isSameAs(Transports.ALLOCATOR)
                    .isInstanceOf(PooledByteBufAllocator.class);
            Await.until(() -> !ch.isActive()); // released to a retired pool: closed, not kept
        }
    }

    /**
     * An idle HTTP/1.1 connection taken again comes as its own completed future: the same one each
     * time (no promise per request), already successful, with that connection.
     */
    @Test
    void anIdleConnectionTakenAgainComesWithItsOwnCompletedFuture() throws Exception {
        try (TestApp app = new TestApp()) {
            ConnectionPool pool = http1Pool(app);
            io.netty.channel.EventLoop loop = group.next();
            Upstream first = loop.submit(() -> pool.acquire(loop)).get().get(5, TimeUnit.SECONDS);
            assertThat(first.reused()).as("a new connection").isFalse();
            var again = loop.submit(() -> {
                pool.release(first, true);
                var f1 = pool.acquire(loop);
                pool.release(first, true);
                var f2 = pool.acquire(loop);
                return java.util.List.of(f1, f2);
            }).get(5, TimeUnit.SECONDS);
            assertThat(again.get(0).isSuccess()).as("done at once").isTrue();
            assertThat(again.get(0).getNow()).isSameAs(first);
            assertThat(again.get(1)).as("the connection's own future, not a new one").isSameAs(again.get(0));
            assertThat(again.get(0).cancel(false)).as("a completed future cannot be cancelled by one user for the next").isFalse();
            assertThat(first.reused()).as("taken from the idle list").isTrue();
            loop.submit(() -> pool.release(first, false)).get(5, TimeUnit.SECONDS);
            Await.until(() -> !first.connection().isActive());
            pool.close();
        }
    }

    /** A stream opened with its HTTP/2 connection is not reused; one opened on the connection afterwards is. */
    @Test
    void aStreamOnAnOpenHttp2ConnectionCountsAsReused() throws Exception {
        try (H2Upstream up = new H2Upstream(tmp)) {
            ConnectionPool pool = up.pool;
            io.netty.channel.EventLoop loop = group.next();
            Upstream s1 = loop.submit(() -> pool.acquire(loop)).get().get(5, TimeUnit.SECONDS);
            Upstream s2 = loop.submit(() -> pool.acquire(loop)).get().get(5, TimeUnit.SECONDS);
            assertThat(s1.multiplexed()).as("an HTTP/2 stream").isTrue();
            assertThat(s1).isNotSameAs(s2);
            assertThat(s2.connection()).isSameAs(s1.connection());
            assertThat(s1.reused()).as("opened with its connection").isFalse();
            assertThat(s2.reused()).as("opened on a connection already open").isTrue();
            loop.submit(() -> {
                pool.release(s1, false);
                pool.release(s2, false);
                pool.close();
            }).get(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void http2() throws Exception {
        try (H2Upstream up = new H2Upstream(tmp)) {
            ConnectionPool pool = up.pool;
            TestApp app = up.app;
            CompletableFuture<Upstream> used = new CompletableFuture<>();
            assertThat(requestWhileRetiring(pool, group, "/slow?ms=600", used)).isEqualTo(200);
            Upstream stream = used.get();
            assertThat(stream.multiplexed()).as("an HTTP/2 stream").isTrue();
            assertThat(stream.connection().alloc()).isSameAs(Transports.ALLOCATOR).isInstanceOf(PooledByteBufAllocator.class);
            Await.until(() -> !stream.connection().isActive()); // the last stream ended: the connection closes
            assertThat(app.requests.get()).isEqualTo(1);
        }
    }
}
