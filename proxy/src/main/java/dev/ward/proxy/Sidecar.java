package dev.ward.proxy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ward.authz.identity.AllowList;
import dev.ward.authz.identity.SpiffeId;
import dev.ward.proxy.admin.AdminServer;
import dev.ward.proxy.config.ConfigLoader;
import dev.ward.proxy.config.HostPort;
import dev.ward.proxy.config.SidecarConfig;
import dev.ward.proxy.http.ConnectionPool;
import dev.ward.proxy.upstream.UpstreamCluster;
import dev.ward.proxy.http.Drain;
import dev.ward.proxy.inbound.InboundRouter;
import dev.ward.proxy.inbound.InboundServer;
import dev.ward.proxy.outbound.OutboundRouter;
import dev.ward.proxy.outbound.OutboundServer;
import dev.ward.proxy.tls.IdentityMaterial;
import dev.ward.proxy.tls.TlsContexts;
import dev.ward.proxy.transport.Transport;
import dev.ward.proxy.transport.Transports;
import dev.ward.telemetry.AccessLog;
import dev.ward.telemetry.RequestTelemetry;
import dev.ward.telemetry.metrics.SidecarState;
import dev.ward.telemetry.metrics.WardMetrics;
import dev.ward.telemetry.tracing.Tracing;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running Ward sidecar: its identity, listeners (inbound, outbound, per-upstream, admin),
 * connection pools and event loops. {@link #start} binds everything or fails with a message
 * naming what is wrong; {@link #shutdown} drains gracefully.
 */
public final class Sidecar implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Sidecar.class);

    private final SidecarConfig config;
    private final TlsContexts tls;
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final Drain drain = new Drain();
    private final List<Channel> listeners = new ArrayList<>();
    private final List<ConnectionPool> pools = new ArrayList<>();
    private final Map<String, UpstreamCluster> clusters = new LinkedHashMap<>();
    private final Map<String, InetSocketAddress> bound = new LinkedHashMap<>();
    private final Map<String, dev.ward.proxy.http.ConnectionLimiter> limiters = new LinkedHashMap<>();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final List<java.io.OutputStream> logFiles = new ArrayList<>();
    private final WardMetrics metrics = new WardMetrics(Version.get());
    private dev.ward.telemetry.AuditLog audit;
    private Tracing tracing;
    private dev.ward.proxy.policy.PolicySource policy;
    private volatile boolean ready;
    /** The socket transport the event loops run on ({@code auto} resolved). */
    private final Transport transport;
    private volatile boolean closed;

    private Sidecar(SidecarConfig config, TlsContexts tls, Transport transport) {
        this.config = config;
        this.tls = tls;
        this.transport = transport;
        this.boss = transport.newGroup(1, "ward-accept");
        this.workers = transport.newGroup(config.workers(), "ward-io");
    }

    /** Thrown when the sidecar cannot start; the message says why, for a person to read. */
    public static final class StartupException extends Exception {
        public StartupException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** Loads the identity, binds every listener and returns once ready to serve. */
    public static Sidecar start(SidecarConfig config) throws StartupException {
        Transport transport;
        try {
            transport = config.transport().resolve();
        } catch (IllegalStateException e) {
            throw new StartupException(e.getMessage(), e);
        }
        SidecarConfig.Identity id = config.identity();
        SslProvider provider = config.tls().provider() == SidecarConfig.TlsProvider.JDK ? SslProvider.JDK : SslProvider.OPENSSL;
        TlsContexts tls;
        try {
            tls = TlsContexts.load(new TlsContexts.Settings(id.cert(), id.key(), id.bundle(), id.trustDomain(),
                    provider, id.reloadInterval()), Clock.systemUTC());
        } catch (IOException e) {
            throw new StartupException("identity: " + e.getMessage(), e);
        } catch (IllegalStateException e) {
            throw new StartupException(e.getMessage(), e);
        }
        Sidecar s;
        try {
            s = new Sidecar(config, tls, transport);
        } catch (RuntimeException e) { // e.g. the kernel refused an io_uring ring's memory
            tls.close();
            throw new StartupException("transport " + transport.text() + ": cannot start its event loops: " + e.getMessage(), e);
        }
        try {
            s.audit = new dev.ward.telemetry.AuditLog(s.logStream("auditLogFile", config.auditLogFile()), Clock.systemUTC());
        } catch (IOException e) {
            s.close();
            throw new StartupException(e.getMessage(), e);
        }
        try {
            s.policy = config.policy().file() != null
                    ? dev.ward.proxy.policy.PolicySource.fromFile(config.policy().file(), s.audit)
                    : dev.ward.proxy.policy.PolicySource.fromAllowList(config.inbound().allow(), s.audit);
        } catch (dev.ward.authz.policy.PolicyException e) {
            s.close();
            throw new StartupException("policy: " + e.getMessage(), e);
        }
        try {
            s.tracing = Tracing.start(s.tracingSettings());
        } catch (IllegalArgumentException e) {
            s.close();
            throw new StartupException(e.getMessage(), e);
        }
        try {
            s.bindAll();
        } catch (IOException e) {
            s.close();
            throw new StartupException(e.getMessage(), e);
        } catch (RuntimeException | InterruptedException e) {
            s.close();
            throw new StartupException(e.getMessage(), e);
        }
        s.metrics.register(s.sidecarState());
        if (s.tracing.enabled()) {
            s.metrics.register(s.tracing.queue());
            log.info("tracing: {} to {}, sampler {} {}", s.tracing.effective().get("exporter"), s.tracing.effective().get("endpoint"),
                    s.tracing.effective().get("sampler"), s.tracing.effective().getOrDefault("samplerArg", ""));
        }
        tls.watch();
        s.policy.watch(config.policy().reloadInterval());
        s.ready = true;
        StringBuilder ports = new StringBuilder();
        s.bound.forEach((k, v) -> ports.append(ports.length() == 0 ? "" : ", ").append(k).append(' ').append(hostPort(v)));
        log.info("ward sidecar {} ready ({} transport, {} TLS, {} worker threads): {}", tls.localId(), s.transport.text(),
                provider == SslProvider.OPENSSL ? "BoringSSL" : "JDK", config.workers(), ports);
        return s;
    }

    private void bindAll() throws InterruptedException, IOException {
        AccessLog access = accessLog();
        String service = serviceName();
        RequestTelemetry inbound = new RequestTelemetry(RequestTelemetry.Direction.INBOUND, tracing, metrics, access, service);
        RequestTelemetry outbound = new RequestTelemetry(RequestTelemetry.Direction.OUTBOUND, tracing, metrics, access, service);
        SidecarConfig.Limits limits = config.limits();
        if (config.inbound().enabled()) {
            AllowList allow = AllowList.of(config.inbound().allow());
            if (allow.patterns().isEmpty() && config.policy().file() == null) {
                log.warn("inbound.allow is empty and there is no policy.file: every caller will be denied (default deny)");
            }
            ConnectionPool app = pool(new ConnectionPool.Settings("app", config.inbound().app().toSocketAddress(), null,
                    null, Duration.ofSeconds(2), config.tls().handshakeTimeout(), limits.idleTimeout(),
                    limits.maxHeaderSize(), transport.channel(), "app_unavailable"));
            InboundRouter router = new InboundRouter(policy::active, tls.localId(), app, audit);
            InboundServer in = new InboundServer(config, tls, drain, () -> allow, router, inbound, transport.channel());
            limiters.put("inbound", in.limiter());
            bind("inbound", config.inbound().listen(), in);
        }
        Map<String, UpstreamCluster> byHost = new LinkedHashMap<>();
        config.outbound().upstreams().forEach((name, u) -> {
            boolean h2 = u.protocol() == SidecarConfig.UpstreamProtocol.H2;
            SpiffeId expected = SpiffeId.parse(u.identity());
            UpstreamCluster c = new UpstreamCluster(name, u, address -> new ConnectionPool(new ConnectionPool.Settings(name,
                    address, () -> tls.client(h2), expected, u.timeouts().connect(), config.tls().handshakeTimeout(),
                    u.timeouts().idle(), limits.maxHeaderSize(), transport.channel(), "upstream_unavailable"), tls.refusals()),
                    java.net.InetAddress::getAllByName);
            clusters.put(name, c);
            c.start();
            byHost.put(name.toLowerCase(), c);
            for (String h : u.hosts()) {
                byHost.put(h.toLowerCase(), c);
            }
        });
        for (var l : outboundListeners()) {
            java.net.InetAddress ip = l.getValue().toSocketAddress().getAddress();
            if (ip == null || !ip.isLoopbackAddress()) {
                log.warn("{} listens on {}, which is not loopback: anyone who reaches it can call upstreams with this "
                        + "sidecar's identity ({}). Bind it to 127.0.0.1 unless that is intended.", l.getKey(), l.getValue(),
                        tls.localId());
            }
        }
        OutboundServer out = new OutboundServer("outbound", limits, drain, OutboundRouter.byHost(Map.copyOf(byHost)), outbound);
        limiters.put("outbound", out.limiter());
        bind("outbound", config.outbound().listen(), out);
        for (var e : config.outbound().upstreams().entrySet()) {
            if (e.getValue().listen() != null) {
                String name = "upstream:" + e.getKey();
                OutboundServer up = new OutboundServer(name, limits, drain, OutboundRouter.fixed(clusters.get(e.getKey())), outbound);
                limiters.put(name, up.limiter());
                bind(name, e.getValue().listen(), up);
            }
        }
        bind("admin", config.admin().listen(), new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(64 * 1024),
                        new AdminServer(() -> adminState()));
            }
        });
    }

    private List<Map.Entry<String, HostPort>> outboundListeners() {
        List<Map.Entry<String, HostPort>> l = new ArrayList<>();
        l.add(Map.entry("outbound.listen", config.outbound().listen()));
        config.outbound().upstreams().forEach((n, u) -> {
            if (u.listen() != null) {
                l.add(Map.entry("outbound.upstreams." + n + ".listen", u.listen()));
            }
        });
        return l;
    }

    /** The access log, or null when off. */
    private AccessLog accessLog() throws IOException {
        AccessLog.Mode mode = AccessLog.Mode.valueOf(config.accessLog().name());
        return mode == AccessLog.Mode.OFF ? null
                : new AccessLog(mode, logStream("accessLogFile", config.accessLogFile()), Clock.systemUTC());
    }

    /** Standard output, or {@code file} opened for appending (created if absent). */
    private java.io.OutputStream logStream(String setting, java.nio.file.Path file) throws IOException {
        if (file == null) {
            return System.out;
        }
        try {
            if (file.toAbsolutePath().getParent() != null) {
                java.nio.file.Files.createDirectories(file.toAbsolutePath().getParent());
            }
            java.io.OutputStream out = java.nio.file.Files.newOutputStream(file, java.nio.file.StandardOpenOption.CREATE,
                    java.nio.file.StandardOpenOption.APPEND, java.nio.file.StandardOpenOption.WRITE);
            logFiles.add(out);
            return out;
        } catch (IOException e) {
            throw new IOException(setting + ": cannot open " + file + " for appending: " + e.getMessage(), e);
        }
    }

    /** The service this sidecar fronts: tracing.serviceName, else the policy's service, else the SPIFFE id's last segment. */
    private String serviceName() {
        if (config.tracing().serviceName() != null) {
            return config.tracing().serviceName();
        }
        String fromPolicy = policy.get().policy().service();
        if (fromPolicy != null && !fromPolicy.isBlank()) {
            return fromPolicy;
        }
        String id = tls.localId().toString();
        return id.substring(id.lastIndexOf('/') + 1);
    }

    private Tracing.Settings tracingSettings() {
        SidecarConfig.Tracing t = config.tracing();
        return new Tracing.Settings(t.exporter(), t.endpoint(), t.sampling(), t.propagators(), t.serviceName(),
                serviceName(), Version.get());
    }

    private SidecarState sidecarState() {
        return new SidecarState() {
            @Override
            public Map<String, Integer> openConnections() {
                Map<String, Integer> m = new LinkedHashMap<>();
                limiters.forEach((k, v) -> m.put(k, v.open()));
                return m;
            }

            @Override
            public Map<String, Integer> pooledConnections() {
                Map<String, Integer> m = new LinkedHashMap<>();
                int app = 0;
                for (ConnectionPool p : pools) {
                    app += p.openConnections();
                }
                if (config.inbound().enabled()) {
                    m.put("app", app);
                }
                clusters.forEach((k, c) -> m.put(k, c.openConnections()));
                return m;
            }

            @Override
            public List<Upstream> upstreams() {
                List<Upstream> l = new ArrayList<>();
                clusters.values().forEach(c -> l.add(c.stats()));
                return l;
            }

            @Override
            public Map<String, Long> handshakes() {
                return tls.refusals().successes();
            }

            @Override
            public Map<String, Map<String, Long>> handshakeFailures() {
                return tls.refusals().byDirection();
            }

            @Override
            public java.time.Instant leafNotAfter() {
                return tls.material().notAfter();
            }

            @Override
            public java.time.Instant bundleEarliestNotAfter() {
                java.time.Instant min = null;
                for (var c : tls.material().bundle()) {
                    java.time.Instant t = c.getNotAfter().toInstant();
                    min = min == null || t.isBefore(min) ? t : min;
                }
                return min;
            }

            @Override
            public Policy policy() {
                var p = policy.get().policy();
                var st = policy.status();
                return new Policy(p.service(), p.version(), st.loadedAt(), st.source());
            }
        };
    }

    private ConnectionPool pool(ConnectionPool.Settings s) {
        ConnectionPool p = new ConnectionPool(s);
        pools.add(p);
        return p;
    }

    private void bind(String name, HostPort at, ChannelHandler initializer) throws InterruptedException {
        ServerBootstrap b = new ServerBootstrap().group(boss, workers).channel(transport.serverChannel())
                .option(ChannelOption.SO_BACKLOG, 1024)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.SO_KEEPALIVE, true)
                .childOption(ChannelOption.ALLOCATOR, Transports.ALLOCATOR)
                .childHandler(initializer);
        Channel ch;
        try {
            ch = b.bind(at.toSocketAddress()).sync().channel();
        } catch (RuntimeException e) {
            throw new IllegalStateException(name + " listener: cannot bind " + at + ": " + e.getMessage(), e);
        }
        listeners.add(ch);
        bound.put(name, (InetSocketAddress) ch.localAddress());
    }

    private AdminServer.State adminState() {
        return new AdminServer.State() {
            @Override
            public String notReadyReason() {
                if (closed || drain.isDraining()) {
                    return "draining";
                }
                if (!ready) {
                    return "starting";
                }
                for (var e : policy.active().tokens().health().entrySet()) {
                    if (!e.getValue().everLoaded() && !config.policy().readyWithoutKeys()) {
                        return "keys of token issuer " + e.getKey() + " were never loaded (" + e.getValue().lastError() + ")";
                    }
                }
                return null;
            }

            @Override
            public String upstreamsJson(String name) {
                var w = ConfigLoader.jsonWriter().writerWithDefaultPrettyPrinter();
                try {
                    if (name == null) {
                        List<Map<String, Object>> all = new ArrayList<>();
                        clusters.values().forEach(c -> all.add(c.snapshot()));
                        return w.writeValueAsString(Map.of("upstreams", all));
                    }
                    UpstreamCluster c = clusters.get(name);
                    return c == null ? null : w.writeValueAsString(c.snapshot());
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }

            @Override
            public String explainJson(String body) {
                com.fasterxml.jackson.databind.JsonNode q;
                try {
                    q = ConfigLoader.jsonWriter().readTree(body);
                } catch (IOException e) {
                    throw new IllegalArgumentException("the body must be JSON: {\"from\": ..., \"method\": ..., \"path\": ...}");
                }
                if (q == null || !q.isObject()) {
                    throw new IllegalArgumentException("the body must be a JSON object");
                }
                Map<String, String> headers = new LinkedHashMap<>();
                q.path("headers").properties().forEach(e -> headers.put(e.getKey(), e.getValue().asText()));
                var active = policy.active();
                return dev.ward.proxy.policy.Explainer.explain(active.engine(), active.tokens(),
                        new dev.ward.proxy.policy.Explainer.Question(q.path("from").asText(null), q.path("method").asText("GET"),
                                q.path("path").asText(null), headers, q.path("token").asText(null))).toPrettyString();
            }

            @Override
            public String policyJson() {
                var mapper = ConfigLoader.jsonWriter();
                ObjectNode root = mapper.createObjectNode();
                var p = policy.get().policy();
                var st = policy.status();
                root.put("service", p.service());
                root.put("version", p.version());
                root.put("mode", p.mode().name().toLowerCase());
                root.put("default", p.defaultAllow() ? "allow" : "deny");
                root.put("rules", p.rules().size());
                root.put("source", st.source());
                root.put("loadedAt", String.valueOf(st.loadedAt()));
                if (st.lastError() != null) {
                    root.put("lastRefusedChange", st.lastError());
                }
                var names = root.putArray("ruleNames");
                p.rules().forEach(r -> names.add(r.name()));
                var issuers = root.putObject("tokenIssuers");
                policy.active().tokens().health().forEach((iss, h) -> {
                    ObjectNode o = issuers.putObject(iss);
                    o.put("keysFrom", h.source());
                    o.put("lastSuccess", String.valueOf(h.lastSuccess()));
                    var kids = o.putArray("keyIds");
                    h.keyIds().forEach(kids::add);
                    if (h.lastError() != null) {
                        o.put("lastError", h.lastError());
                    }
                });
                return root.toPrettyString();
            }

            @Override
            public String configJson() {
                var mapper = ConfigLoader.jsonWriter();
                ObjectNode root = mapper.valueToTree(config);
                IdentityMaterial m = tls.material();
                ObjectNode idNode = (ObjectNode) root.get("identity");
                idNode.put("spiffeId", m.id().toString());
                idNode.put("notAfter", m.notAfter().toString());
                idNode.put("bundleCertificates", m.bundle().size());
                root.put("tlsProvider", tls.provider() == SslProvider.OPENSSL ? "boringssl" : "jdk");
                root.put("transportInForce", transport.text());
                ObjectNode ports = root.putObject("listening");
                bound.forEach((k, v) -> ports.put(k, hostPort(v)));
                root.set("tracingInForce", mapper.valueToTree(tracing.effective()));
                return root.toPrettyString();
            }

            @Override
            public AdminServer.Metrics metrics(String accept) {
                java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(16 * 1024);
                try {
                    metrics.write(out, accept);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                return new AdminServer.Metrics(metrics.contentType(accept), out.toByteArray());
            }
        };
    }

    private static String hostPort(InetSocketAddress a) {
        String h = a.getAddress() != null && a.getAddress().isAnyLocalAddress() ? "*" : a.getHostString();
        return (h.contains(":") ? "[" + h + "]" : h) + ":" + a.getPort();
    }

    /** The address a listener is bound to: {@code inbound}, {@code outbound}, {@code admin}, {@code upstream:NAME}. */
    public InetSocketAddress address(String listener) {
        InetSocketAddress a = bound.get(listener);
        if (a == null) {
            throw new IllegalArgumentException("no listener named " + listener + " (have " + bound.keySet() + ")");
        }
        return a;
    }

    public int port(String listener) {
        return address(listener).getPort();
    }

    /** Connections open now on a listener (see {@link #address}). */
    public int openConnections(String listener) {
        var l = limiters.get(listener);
        if (l == null) {
            throw new IllegalArgumentException("no proxy listener named " + listener + " (have " + limiters.keySet() + ")");
        }
        return l.open();
    }

    public TlsContexts tls() {
        return tls;
    }

    public SidecarConfig config() {
        return config;
    }

    public boolean isReady() {
        return ready && !closed;
    }

    /** Exchanges in flight now, across all listeners. */
    public int inFlight() {
        return drain.inFlight();
    }

    /**
     * Graceful shutdown: stop accepting, let in-flight exchanges finish (HTTP/2 peers get GOAWAY,
     * HTTP/1.1 responses carry {@code Connection: close}) up to {@code timeout}, then close.
     * Returns true if nothing in flight was cut off.
     */
    public boolean shutdown(Duration timeout) {
        if (closed) {
            return true;
        }
        ready = false;
        for (Channel l : listeners) {
            l.close().awaitUninterruptibly();
        }
        log.info("draining: stopped accepting; waiting up to {} for {} in-flight exchanges", timeout, drain.inFlight());
        int left;
        try {
            left = drain.drain(timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            left = drain.inFlight();
        }
        if (left > 0) {
            log.warn("drain timeout {} reached with {} exchanges in flight; they were cut off", timeout, left);
        }
        close();
        return left == 0;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        ready = false;
        for (Channel l : listeners) {
            l.close();
        }
        for (ConnectionPool p : pools) {
            p.close();
        }
        for (UpstreamCluster c : clusters.values()) {
            c.close();
        }
        tls.close();
        if (policy != null) {
            policy.close();
        }
        if (tracing != null) {
            tracing.close(Duration.ofSeconds(3)); // exports what is queued
        }
        for (java.io.OutputStream f : logFiles) {
            try {
                f.close();
            } catch (IOException e) {
                log.debug("closing a log file: {}", e.toString());
            }
        }
        boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        stopped.countDown();
    }

    /** Blocks until the sidecar is closed. */
    public void awaitStopped() throws InterruptedException {
        stopped.await();
    }
}
