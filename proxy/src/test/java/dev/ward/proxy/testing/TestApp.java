package dev.ward.proxy.testing;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A real HTTP app on loopback (the JDK's HTTP server) that records what reached it.
 * {@code /echo}: replies with the caller identity header; {@code /upload}: reads the body and
 * replies "length sha256"; {@code /download?bytes=N}: streams N bytes; {@code /slow?ms=N}:
 * answers after N ms; {@code /status?code=N}: answers with status N.
 */
public final class TestApp implements AutoCloseable {

    private final HttpServer server;
    private final ExecutorService pool = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "test-app");
        t.setDaemon(true);
        return t;
    });
    public final AtomicInteger requests = new AtomicInteger();
    public final Set<Integer> clientPorts = ConcurrentHashMap.newKeySet();
    public final AtomicReference<Headers> lastHeaders = new AtomicReference<>();
    public final AtomicReference<String> lastPath = new AtomicReference<>();

    public TestApp() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 128);
        server.createContext("/", this::handle);
        server.setExecutor(pool);
        server.start();
    }

    public int port() {
        return server.getAddress().getPort();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            requests.incrementAndGet();
            clientPorts.add(ex.getRemoteAddress().getPort());
            lastHeaders.set(ex.getRequestHeaders());
            lastPath.set(ex.getRequestURI().getRawPath());
            String path = ex.getRequestURI().getPath();
            String query = ex.getRequestURI().getQuery();
            if (path.startsWith("/upload")) {
                MessageDigest d = sha256();
                long n = 0;
                byte[] buf = new byte[64 * 1024];
                try (InputStream in = ex.getRequestBody()) {
                    for (int r; (r = in.read(buf)) > 0; ) {
                        d.update(buf, 0, r);
                        n += r;
                    }
                }
                send(ex, 200, n + " " + HexFormat.of().formatHex(d.digest()));
                return;
            }
            ex.getRequestBody().readAllBytes();
            if (path.startsWith("/download")) {
                long n = Long.parseLong(query.substring("bytes=".length()));
                ex.sendResponseHeaders(200, n);
                byte[] chunk = new byte[64 * 1024];
                for (int i = 0; i < chunk.length; i++) {
                    chunk[i] = (byte) i;
                }
                try (OutputStream o = ex.getResponseBody()) {
                    for (long left = n; left > 0; left -= chunk.length) {
                        o.write(chunk, 0, (int) Math.min(chunk.length, left));
                    }
                }
                return;
            }
            if (path.startsWith("/status")) {
                send(ex, Integer.parseInt(query.substring("code=".length())), "status " + query);
                return;
            }
            if (path.startsWith("/slow")) {
                Thread.sleep(Long.parseLong(query.substring("ms=".length())));
            }
            String caller = ex.getRequestHeaders().getFirst("x-ward-peer-identity");
            send(ex, 200, "hello " + caller + " " + ex.getRequestMethod() + " " + ex.getRequestURI());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void send(HttpExchange ex, int status, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream o = ex.getResponseBody()) {
            o.write(b);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        pool.shutdownNow();
    }
}
