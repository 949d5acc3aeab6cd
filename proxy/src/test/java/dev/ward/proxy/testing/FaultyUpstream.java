package dev.ward.proxy.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;

/**
 * A real upstream on loopback that speaks HTTP/1.1 over mutual TLS with a SPIFFE identity (what a
 * Ward inbound listener looks like to an outbound sidecar), and that can be told to misbehave:
 * refuse connections (its port closed), hang, reset the connection, answer slowly, or answer with a
 * status such as 503. Counts accepted connections and requests, so a test can tell whether
 * anything reached it. A script of behaviours is used up first, one per request; then the mode.
 */
public final class FaultyUpstream implements AutoCloseable {

    public enum Mode { OK, HANG, RESET, SLOW, STATUS }

    private final javax.net.ssl.SSLContext tls;
    private final int port;
    private volatile SSLServerSocket server;
    private volatile Mode mode = Mode.OK;
    private volatile int status = 503;
    private volatile long slowMs = 200;
    private final ConcurrentLinkedQueue<Mode> script = new ConcurrentLinkedQueue<>();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    public final AtomicInteger accepts = new AtomicInteger();
    public final AtomicInteger requests = new AtomicInteger();
    /** Request ids ({@code x-request-id}) seen, per method, with how often each came. */
    public final Map<String, AtomicInteger> ids = new ConcurrentHashMap<>();
    public final Set<String> methods = ConcurrentHashMap.newKeySet();

    /** Serves as the identity in {@code certs} (from {@link TestPki#issue}). */
    public FaultyUpstream(Path certs) throws Exception {
        this.tls = Clients.mtls(certs);
        SSLServerSocket s = bind(0);
        this.port = s.getLocalPort();
        start(s);
    }

    public int port() {
        return port;
    }

    public FaultyUpstream mode(Mode m) {
        this.mode = m;
        return this;
    }

    public FaultyUpstream status(int s) {
        this.status = s;
        this.mode = Mode.STATUS;
        return this;
    }

    public FaultyUpstream slow(long ms) {
        this.slowMs = ms;
        this.mode = Mode.SLOW;
        return this;
    }

    /** The next requests behave like this, one each, before the mode applies again. */
    public FaultyUpstream script(Mode... next) {
        script.addAll(List.of(next));
        return this;
    }

    /** Closes the listening port: connections are refused until {@link #listen()}. */
    public synchronized void refuse() throws IOException {
        server.close();
    }

    /** Listens again on the same port. */
    public synchronized void listen() throws IOException {
        if (server.isClosed()) {
            start(bind(port));
        }
    }

    /** Closes every open connection (as a restarting server would). */
    public void dropConnections() {
        for (Socket s : sockets) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    private SSLServerSocket bind(int p) throws IOException {
        SSLServerSocket s = (SSLServerSocket) tls.getServerSocketFactory().createServerSocket();
        s.setReuseAddress(true);
        s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), p), 128);
        SSLParameters params = s.getSSLParameters();
        params.setNeedClientAuth(true);
        params.setApplicationProtocols(new String[] {"http/1.1"});
        s.setSSLParameters(params);
        return s;
    }

    private void start(SSLServerSocket s) {
        server = s;
        Thread t = new Thread(() -> acceptLoop(s), "faulty-upstream-" + port);
        t.setDaemon(true);
        t.start();
    }

    private void acceptLoop(SSLServerSocket s) {
        while (!s.isClosed()) {
            try {
                Socket c = s.accept();
                accepts.incrementAndGet();
                sockets.add(c);
                Thread t = new Thread(() -> serve(c), "faulty-upstream-conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket c) {
        try (c) {
            InputStream in = c.getInputStream();
            OutputStream out = c.getOutputStream();
            while (true) {
                String head = readHead(in);
                if (head == null) {
                    return;
                }
                String[] lines = head.split("\r\n");
                String method = lines[0].split(" ")[0];
                String target = lines[0].split(" ")[1];
                long length = 0;
                boolean chunked = false;
                String id = null;
                for (String l : lines) {
                    String lower = l.toLowerCase(Locale.ROOT);
                    if (lower.startsWith("content-length:")) {
                        length = Long.parseLong(l.substring(15).trim());
                    } else if (lower.startsWith("transfer-encoding:") && lower.contains("chunked")) {
                        chunked = true;
                    } else if (lower.startsWith("x-request-id:")) {
                        id = l.substring(13).trim();
                    }
                }
                byte[] body = chunked ? readChunked(in) : in.readNBytes((int) length);
                requests.incrementAndGet();
                methods.add(method);
                if (id != null) {
                    ids.computeIfAbsent(method + " " + id, k -> new AtomicInteger()).incrementAndGet();
                }
                Mode m = script.poll();
                if (m == null) {
                    m = mode;
                }
                switch (m) {
                    case HANG -> {
                        in.read(); // until the client gives up and closes
                        return;
                    }
                    case RESET -> {
                        c.setSoLinger(true, 0);
                        return; // closing with linger 0 sends RST
                    }
                    case SLOW -> {
                        Thread.sleep(slowMs);
                        respond(out, 200, method + " " + target + " " + body.length + " port " + port);
                    }
                    case STATUS -> respond(out, status, "status " + status);
                    default -> respond(out, 200, method + " " + target + " " + body.length + " port " + port);
                }
            }
        } catch (IOException | InterruptedException | RuntimeException e) {
            // the peer went away, or the test closed us
        } finally {
            sockets.remove(c);
        }
    }

    private static void respond(OutputStream out, int code, String text) throws IOException {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        out.write(("HTTP/1.1 " + code + " X\r\ncontent-type: text/plain\r\ncontent-length: " + b.length + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        out.write(b);
        out.flush();
    }

    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int state = 0;
        for (int b; (b = in.read()) >= 0; ) {
            buf.write(b);
            state = (b == '\r' && (state == 0 || state == 2)) ? state + 1 : (b == '\n' && (state == 1 || state == 3)) ? state + 1 : 0;
            if (state == 4) {
                return buf.toString(StandardCharsets.US_ASCII);
            }
        }
        return null;
    }

    private static byte[] readChunked(InputStream in) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        while (true) {
            String sizeLine = readLine(in);
            int size = Integer.parseInt(sizeLine.split(";")[0].trim(), 16);
            if (size == 0) {
                while (!readLine(in).isEmpty()) {
                    // trailers
                }
                return body.toByteArray();
            }
            body.write(in.readNBytes(size));
            readLine(in);
        }
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int b; (b = in.read()) >= 0; ) {
            if (b == '\n') {
                return sb.toString().replace("\r", "");
            }
            sb.append((char) b);
        }
        throw new SocketException("closed");
    }

    @Override
    public void close() throws IOException {
        server.close();
        dropConnections();
    }
}
