package dev.ward.proxy.cli;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.ward.authz.identity.SpiffeId;
import dev.ward.proxy.Sidecar;
import dev.ward.proxy.certs.DevCertificateAuthority;
import dev.ward.proxy.config.ConfigLoader;
import dev.ward.proxy.config.SidecarConfig;
import dev.ward.proxy.tls.IdentityMaterial;
import dev.ward.proxy.tls.JdkTls;
import dev.ward.proxy.tls.PeerIdentity;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/**
 * The guided demo: a throwaway trust domain, two small apps ("frontend" calls "orders"), a
 * sidecar for each plus an "intruder" sidecar with a valid certificate that is not on orders'
 * allow-list; every hop is a real socket on 127.0.0.1 with real mTLS. Prints what each side
 * saw, in plain words.
 */
final class Demo {

    private static final String TD = "demo.ward.test";
    private final PrintStream out;
    private final List<AutoCloseable> running = new ArrayList<>();
    private final Traces traces;
    private ZipkinServer zipkin;
    /** The sidecars' tracing settings, with %s for the service name; empty when the demo exports nowhere itself. */
    private String tracingYaml = "";

    /**
     * Where the demo's traces go: {@code zipkin} starts a Zipkin server; {@code endpoint} sends
     * them to a backend the user runs ({@code exporter}: otlp, otlp-http or zipkin); neither: only
     * what the {@code OTEL_*} environment says, if anything.
     */
    record Traces(boolean zipkin, String endpoint, String exporter) {
        static final Traces NONE = new Traces(false, null, null);
    }

    Demo(PrintStream out) {
        this(out, Traces.NONE);
    }

    Demo(PrintStream out, Traces traces) {
        this.out = out;
        this.traces = traces;
    }

    int run(boolean keep) throws Exception {
        // Sidecar chatter would drown the story; warnings (refusals) still show.
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", System.getProperty("ward.demo.log", "warn"));
        // Export spans every 200 ms (not every 5 s) so the demo can show them right away.
        if (System.getProperty("otel.bsp.schedule.delay") == null && System.getenv("OTEL_BSP_SCHEDULE_DELAY") == null) {
            System.setProperty("otel.bsp.schedule.delay", "200");
        }
        Path dir = Files.createTempDirectory("ward-demo-");
        try {
            return demo(dir, keep);
        } finally {
            stopAll();
            if (!keep) {
                deleteTree(dir);
            }
        }
    }

    private int demo(Path dir, boolean keep) throws Exception {
        out.println("Ward demo: two apps and their sidecars on 127.0.0.1, talking over mutual TLS.");
        out.println();
        if (traces.zipkin()) {
            Path jar = ZipkinServer.jar();
            out.println("0. Starting Zipkin (in-memory storage) for the traces: " + jar);
            zipkin = ZipkinServer.start(dir);
            running.add(zipkin);
            tracingYaml = "tracing: { exporter: zipkin, endpoint: " + zipkin.spansEndpoint() + ", sampling: 1.0, serviceName: %s }\n";
            out.println("     Zipkin UI: http://127.0.0.1:" + zipkin.port() + "/zipkin/");
            out.println();
        } else if (traces.endpoint() != null) {
            tracingYaml = "tracing: { exporter: " + traces.exporter() + ", endpoint: " + traces.endpoint()
                    + ", sampling: 1.0, serviceName: %s }\n";
        }

        DevCertificateAuthority ca = DevCertificateAuthority.create(TD, Duration.ofDays(1));
        ca.writeTo(dir.resolve("ca"));
        SpiffeId frontendId = SpiffeId.parse("spiffe://" + TD + "/ns/shop/sa/frontend");
        SpiffeId ordersId = SpiffeId.parse("spiffe://" + TD + "/ns/shop/sa/orders");
        SpiffeId intruderId = SpiffeId.parse("spiffe://" + TD + "/ns/shop/sa/intruder");
        for (SpiffeId id : List.of(frontendId, ordersId, intruderId)) {
            ca.issue(id, Duration.ofHours(1)).writeTo(dir.resolve(name(id)));
        }
        out.println("1. Minted a throwaway trust domain '" + TD + "' (dev CA + certificates in " + dir + "):");
        out.println("     frontend  " + frontendId);
        out.println("     orders    " + ordersId + "   (allows only frontend)");
        out.println("     intruder  " + intruderId + " (valid certificate, not on orders' list)");
        out.println();

        AtomicInteger ordersCalls = new AtomicInteger();
        HttpServer ordersApp = app(ex -> {
            ordersCalls.incrementAndGet();
            String caller = ex.getRequestHeaders().getFirst("x-ward-peer-identity");
            respond(ex, 200, "{\"order\":\"" + ex.getRequestURI().getPath() + "\",\"status\":\"shipped\","
                    + "\"caller\":\"" + caller + "\"}\n");
        });
        Sidecar orders = start(dir, ordersId, """
                inbound: { listen: 127.0.0.1:0, app: 127.0.0.1:%d, allow: [ %s ] }
                outbound: { listen: 127.0.0.1:0 }
                """.formatted(ordersApp.getAddress().getPort(), frontendId));
        String upstream = """
                outbound:
                  listen: 127.0.0.1:0
                  upstreams:
                    orders: { address: 127.0.0.1:%d, identity: %s }
                inbound: { enabled: false }
                """.formatted(orders.port("inbound"), ordersId);
        Sidecar frontend = start(dir, frontendId, upstream);
        Sidecar intruder = start(dir, intruderId, upstream);
        int frontendOut = frontend.port("outbound");
        HttpClient viaFrontend = HttpClient.newBuilder().proxy(ProxySelector.of(new InetSocketAddress("127.0.0.1", frontendOut)))
                .connectTimeout(Duration.ofSeconds(5)).build();
        HttpServer frontendApp = app(ex -> {
            try {
                // A well-behaved app passes on the trace context it received, so its call joins the trace.
                HttpRequest.Builder call = HttpRequest.newBuilder(URI.create("http://orders/orders/42"));
                String tp = ex.getRequestHeaders().getFirst("traceparent");
                if (tp != null) {
                    call.header("traceparent", tp);
                }
                HttpResponse<String> r = viaFrontend.send(call.build(), HttpResponse.BodyHandlers.ofString());
                respond(ex, 200, "frontend asked orders for order 42 and got " + r.statusCode() + ": " + r.body());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                respond(ex, 500, "interrupted\n");
            }
        });
        out.println("2. Started, each on its own loopback port:");
        out.println("     app 'orders'       127.0.0.1:" + ordersApp.getAddress().getPort() + "   behind its sidecar (mTLS inbound 127.0.0.1:"
                + orders.port("inbound") + ")");
        out.println("     app 'frontend'     127.0.0.1:" + frontendApp.getAddress().getPort() + "   calling out through its sidecar (127.0.0.1:"
                + frontendOut + ")");
        out.println("     intruder's sidecar 127.0.0.1:" + intruder.port("outbound"));
        out.println();

        boolean ok = true;
        HttpClient plain = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        String trace1 = traceId();
        HttpResponse<String> viaApp = plain.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + frontendApp.getAddress().getPort() + "/"))
                .header("traceparent", "00-" + trace1 + "-" + spanId() + "-01").build(), HttpResponse.BodyHandlers.ofString());
        out.println("3. frontend calls orders: app -> frontend's sidecar -> mTLS -> orders' sidecar -> app");
        out.println("     " + viaApp.body().trim());
        boolean allowed = viaApp.statusCode() == 200 && viaApp.body().contains("\"caller\":\"" + frontendId + "\"");
        ok &= allowed;
        out.println(allowed
                ? "     Allowed. orders' sidecar verified the caller's certificate and told the app who called: " + frontendId
                : "     UNEXPECTED: the call did not go through as it should.");
        IdentityMaterial fm = frontend.tls().material();
        try (SSLSocket s = handshake(JdkTls.client(fm), orders.port("inbound"))) {
            out.println("     On the wire: " + s.getSession().getProtocol() + ", " + s.getSession().getCipherSuite() + ", ALPN "
                    + s.getApplicationProtocol() + "; the server proved it is " + PeerIdentity.fromSession(s.getSession()));
        }
        ok &= showTrace(trace1, 2);
        out.println();

        int before = ordersCalls.get();
        HttpClient viaIntruder = HttpClient.newBuilder()
                .proxy(ProxySelector.of(new InetSocketAddress("127.0.0.1", intruder.port("outbound")))).build();
        String trace2 = traceId();
        HttpResponse<String> denied = viaIntruder.send(HttpRequest.newBuilder(URI.create("http://orders/orders/42"))
                .header("traceparent", "00-" + trace2 + "-" + spanId() + "-01").build(), HttpResponse.BodyHandlers.ofString());
        boolean refused = denied.statusCode() == 403 && ordersCalls.get() == before;
        ok &= refused;
        out.println("4. intruder calls orders the same way:");
        out.println("     " + denied.statusCode() + " " + denied.body().trim());
        out.println(refused
                ? "     Refused by orders' sidecar: " + intruderId + " is not on its allow-list. The app never saw the request."
                : "     UNEXPECTED: the intruder was not refused as it should be.");
        Files.readAllLines(dir.resolve("orders").resolve("audit.log")).stream().filter(l -> l.contains("\"event\":\"deny\""))
                .reduce((a, b) -> b).ifPresent(l -> out.println("     orders' audit log: " + l));
        ok &= showTrace(trace2, 2);
        out.println();

        out.println("5. A client with no certificate connects straight to orders' sidecar:");
        String noCert;
        try (SSLSocket s = handshake(JdkTls.client(null, null, fm.bundle(), TD), orders.port("inbound"))) {
            s.getOutputStream().write("GET /orders/42 HTTP/1.1\r\nHost: orders\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            int b = s.getInputStream().read();
            noCert = b < 0 ? "connection closed without a response" : "UNEXPECTED: got a response";
        } catch (IOException e) {
            noCert = "refused during the TLS handshake (" + e.getMessage() + ")";
        }
        boolean noCertRefused = !noCert.startsWith("UNEXPECTED");
        ok &= noCertRefused;
        out.println("     " + noCert);
        out.println();

        if (keep) {
            printKeep(dir, orders, frontend, intruder, frontendApp);
            Thread.currentThread().join();
        }
        out.println(ok ? "Demo complete: every call behaved as expected. Everything it started is stopped."
                : "Demo finished with UNEXPECTED results (see above).");
        return ok ? 0 : 1;
    }

    private static String traceId() {
        return java.util.HexFormat.of().formatHex(randomBytes(16));
    }

    private static String spanId() {
        return java.util.HexFormat.of().formatHex(randomBytes(8));
    }

    private static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        new java.security.SecureRandom().nextBytes(b);
        b[0] |= 1;
        return b;
    }

    /**
     * Prints where trace {@code traceId} can be seen and, with the demo's own Zipkin, the spans
     * Zipkin has for it (waiting up to 10 s for {@code expected} of them). False if they never came.
     */
    private boolean showTrace(String traceId, int expected) throws Exception {
        if (zipkin == null) {
            String env = System.getenv("OTEL_EXPORTER_OTLP_ENDPOINT");
            if (traces.endpoint() != null) {
                out.println("     Trace " + traceId + " was exported to " + traces.endpoint() + " (" + traces.exporter() + ").");
            } else if (env != null) {
                out.println("     Trace " + traceId + " was exported to " + env + " (OTEL_EXPORTER_OTLP_ENDPOINT).");
            }
            return true;
        }
        List<com.fasterxml.jackson.databind.JsonNode> spans = zipkin.trace(traceId);
        for (int i = 0; i < 100 && spans.size() < expected; i++) {
            Thread.sleep(100);
            spans = zipkin.trace(traceId);
        }
        out.println("     Trace in Zipkin: " + zipkin.traceUrl(traceId));
        spans.sort(Comparator.comparing(n -> n.path("timestamp").asLong()));
        for (var span : spans) {
            var tags = span.path("tags");
            String error = tags.path("error").asText("");
            out.println(String.format("       %-9s %-6s %-22s %s %6.1f ms%s", span.path("localEndpoint").path("serviceName").asText(),
                    span.path("kind").asText(), span.path("name").asText().toUpperCase(java.util.Locale.ROOT).replaceFirst(" .*", "")
                            + " " + span.path("name").asText().replaceFirst("^\\S+ ", ""),
                    tags.path("http.response.status_code").asText("-"), span.path("duration").asLong() / 1000.0,
                    error.isEmpty() ? "" : "  error: " + error));
        }
        if (spans.size() < expected) {
            out.println("     UNEXPECTED: Zipkin has " + spans.size() + " of the " + expected + " spans of this trace.");
            return false;
        }
        return true;
    }

    private void printKeep(Path dir, Sidecar orders, Sidecar frontend, Sidecar intruder, HttpServer frontendApp) {
        Path f = dir.resolve("frontend");
        out.println("Everything keeps running (Ctrl-C to stop). Try:");
        out.println("  curl http://127.0.0.1:" + frontendApp.getAddress().getPort() + "/                 # frontend app calls orders");
        out.println("  curl -x http://127.0.0.1:" + frontend.port("outbound") + " http://orders/orders/7   # frontend's sidecar as HTTP proxy");
        out.println("  curl -H 'Host: orders' http://127.0.0.1:" + intruder.port("outbound") + "/orders/7   # intruder: 403");
        out.println("  curl --cert " + f.resolve("tls.crt") + " --key " + f.resolve("tls.key") + " --cacert " + f.resolve("ca.crt")
                + " -k https://127.0.0.1:" + orders.port("inbound") + "/orders/7");
        out.println("       (-k: the certificates carry only a SPIFFE id, no DNS name, so curl cannot check a host name)");
        out.println("  openssl s_client -connect 127.0.0.1:" + orders.port("inbound") + " </dev/null   # no client cert: refused");
        out.println("  curl http://127.0.0.1:" + orders.port("admin") + "/config           # orders' sidecar, effective config");
        out.println("  curl http://127.0.0.1:" + orders.port("admin") + "/metrics          # orders' sidecar, Prometheus metrics");
        if (zipkin != null) {
            out.println("  open http://127.0.0.1:" + zipkin.port() + "/zipkin/   # every call above is a trace here");
        }
    }

    private Sidecar start(Path dir, SpiffeId id, String yaml) throws Exception {
        Path certs = dir.resolve(name(id));
        String config = """
                identity: { cert: %s, key: %s, bundle: %s }
                admin: { listen: 127.0.0.1:0 }
                accessLog: off
                auditLogFile: %s
                %s%s""".formatted(certs.resolve("tls.crt"), certs.resolve("tls.key"), certs.resolve("ca.crt"),
                certs.resolve("audit.log"),
                tracingYaml.isEmpty() ? "" : tracingYaml.formatted(name(id)), yaml);
        SidecarConfig cfg = ConfigLoader.parse(config, name(id) + " sidecar");
        Sidecar s = Sidecar.start(cfg);
        running.add(s);
        return s;
    }

    private interface Handler {
        void handle(HttpExchange ex) throws IOException;
    }

    private HttpServer app(Handler h) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
        server.createContext("/", ex -> {
            try (ex) {
                try (InputStream in = ex.getRequestBody()) {
                    in.readAllBytes();
                }
                h.handle(ex);
            }
        });
        server.setExecutor(java.util.concurrent.Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "demo-app");
            t.setDaemon(true);
            return t;
        }));
        server.start();
        running.add(() -> server.stop(0));
        return server;
    }

    private static void respond(HttpExchange ex, int status, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("content-type", body.startsWith("{") ? "application/json" : "text/plain");
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream o = ex.getResponseBody()) {
            o.write(b);
        }
    }

    private static SSLSocket handshake(javax.net.ssl.SSLContext ctx, int port) throws IOException {
        SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", port);
        s.setSoTimeout(5000);
        SSLParameters p = s.getSSLParameters();
        p.setApplicationProtocols(new String[] {"h2", "http/1.1"});
        s.setSSLParameters(p);
        s.startHandshake();
        return s;
    }

    private static String name(SpiffeId id) {
        return id.path().substring(id.path().lastIndexOf('/') + 1);
    }

    private void stopAll() {
        for (int i = running.size() - 1; i >= 0; i--) {
            try {
                running.get(i).close();
            } catch (Exception ignored) {
                // best effort
            }
        }
        running.clear();
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // temp dir; best effort
        }
    }

}
