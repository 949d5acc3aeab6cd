package dev.ward.proxy.upstream;

import dev.ward.proxy.config.HostPort;
import dev.ward.proxy.config.SidecarConfig;
import dev.ward.proxy.http.Admission;
import dev.ward.proxy.http.Backend;
import dev.ward.proxy.http.BackendException;
import dev.ward.proxy.http.ConnectionPool;
import dev.ward.proxy.http.Upstream;
import dev.ward.proxy.resilience.Bulkhead;
import dev.ward.proxy.resilience.Outcomes;
import dev.ward.proxy.resilience.Resilience;
import dev.ward.proxy.util.Poller;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An upstream as the data path sees it: its endpoints, each with a connection pool; the
 * upstream's circuit breaker and bulkhead, which admit each request; per-endpoint breakers that
 * eject a failing endpoint; power-of-two-choices load balancing on tries in flight; DNS names
 * re-resolved on a schedule. Never blocks an event loop: resilience4j is used through its
 * non-blocking calls ({@code tryAcquirePermission}, {@code onSuccess}, {@code onError},
 * {@code releasePermission}), and waiting for a bulkhead slot is a callback.
 *
 * <p>A request is admitted once ({@link #admit}: the upstream breaker's permit and a bulkhead
 * slot, held across retries and settled with the outcome the app got) and tried one or more
 * times ({@link #acquire}: an endpoint, its breaker's permit when there are several, and a
 * connection; settled per try by {@link #record} or, if never recorded, as cancelled by
 * {@link #release}).
 */
public final class UpstreamCluster implements Backend {

    private static final Logger log = LoggerFactory.getLogger(UpstreamCluster.class);
    private static final RuntimeException FAILED = new TryFailed();

    /** Looks up a DNS name; the JDK resolver (and its cache) unless a test says otherwise. */
    @FunctionalInterface
    public interface Resolver {
        InetAddress[] resolve(String host) throws UnknownHostException;
    }

    private final String name;
    private final SidecarConfig.Upstream config;
    private final Function<InetSocketAddress, ConnectionPool> pools;
    private final Resolver resolver;
    private final CircuitBreakerConfig breakerConfig;
    private final WatchedBreaker breaker;
    private final Outcomes failOn;
    private final Bulkhead bulkhead;
    private final Resilience resilience;
    private final LongAdder circuitOpenRejections = new LongAdder();
    private final LongAdder overloadRejections = new LongAdder();
    private volatile List<Endpoint> endpoints = List.of();
    private volatile String resolveError;
    private Poller poller;

    public UpstreamCluster(String name, SidecarConfig.Upstream config, Function<InetSocketAddress, ConnectionPool> pools,
                           Resolver resolver) {
        this.name = name;
        this.config = config;
        this.pools = pools;
        this.resolver = resolver;
        SidecarConfig.CircuitBreaker cb = config.circuitBreaker();
        this.breakerConfig = breakerConfig(cb);
        this.failOn = Outcomes.of(cb.failOn());
        this.breaker = cb.enabled() ? newBreaker(name, null) : null;
        this.bulkhead = new Bulkhead(config.bulkhead().maxConcurrent(), config.bulkhead().maxPending());
        this.resilience = new Resilience(config.timeouts(), config.retry());
    }

    /** Resolves the endpoints once now, then every {@code resolveInterval} if any is a DNS name. */
    public UpstreamCluster start() {
        resolveNow();
        boolean names = config.endpointEntries().stream().anyMatch(hp -> !isLiteral(hp.host()));
        if (names) {
            poller = Poller.every(config.resolveInterval(), "ward-dns-" + name, this::resolveNow);
        }
        return this;
    }

    static CircuitBreakerConfig breakerConfig(SidecarConfig.CircuitBreaker cb) {
        return CircuitBreakerConfig.custom()
                .failureRateThreshold(cb.failureRateThreshold())
                .slowCallRateThreshold(cb.slowCallRateThreshold())
                .slowCallDurationThreshold(cb.slowCallDuration())
                .slidingWindow(cb.slidingWindowSize(), cb.minimumCalls(),
                        cb.slidingWindowType() == SidecarConfig.WindowType.COUNT
                                ? CircuitBreakerConfig.SlidingWindowType.COUNT_BASED
                                : CircuitBreakerConfig.SlidingWindowType.TIME_BASED)
                .waitDurationInOpenState(cb.openFor())
                .permittedNumberOfCallsInHalfOpenState(cb.halfOpenCalls())
                .automaticTransitionFromOpenToHalfOpenEnabled(false)
                .writableStackTraceEnabled(false)
                .build();
    }

    private WatchedBreaker newBreaker(String upstream, String endpoint) {
        CircuitBreaker cb = CircuitBreaker.of(endpoint == null ? upstream : upstream + "@" + endpoint, breakerConfig);
        // Transitions are logged by WatchedBreaker, not through cb's event publisher (which would then
        // make an event for every call it records).
        return new WatchedBreaker(cb, (from, to) -> {
            String rates = rates(cb);
            if (endpoint == null) {
                log.warn("upstream {}: circuit breaker {} -> {}{}", upstream, state(from), state(to), rates);
            } else if (to == CircuitBreaker.State.OPEN) {
                log.warn("upstream {}: endpoint {} ejected (circuit open{})", upstream, endpoint, rates);
            } else {
                log.info("upstream {}: endpoint {} circuit {}", upstream, endpoint, state(to));
            }
        });
    }

    private static String rates(CircuitBreaker b) {
        float f = b.getMetrics().getFailureRate();
        float s = b.getMetrics().getSlowCallRate();
        return f < 0 ? "" : String.format(Locale.ROOT, "; failure rate %.0f%%, slow calls %.0f%%", f, Math.max(0, s));
    }

    /** The state's name in lower case; constants, since it is asked for on every request (span attribute). */
    static String state(CircuitBreaker.State s) {
        return switch (s) {
            case CLOSED -> "closed";
            case OPEN -> "open";
            case HALF_OPEN -> "half_open";
            default -> s.name().toLowerCase(Locale.ROOT);
        };
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public Resilience resilience() {
        return resilience;
    }

    // --- admission (per request) ---

    @Override
    public Future<Admission> admit(EventLoop loop) {
        if (breaker != null && !breaker.tryAcquirePermission()) {
            circuitOpenRejections.increment();
            return loop.newFailedFuture(circuitOpen("the circuit breaker of upstream " + name + " is open"));
        }
        Ticket t = new Ticket(breaker != null);
        if (bulkhead.tryEnter()) {
            t.slot = true;
            return loop.newSucceededFuture(t);
        }
        Promise<Admission> p = loop.newPromise();
        Bulkhead.Waiter w = bulkhead.enqueue(loop, () -> {
            t.slot = true;
            if (!p.trySuccess(t)) {
                t.cancel();
            }
        });
        if (w == null) {
            t.cancel();
            overloadRejections.increment();
            return p.setFailure(new BackendException(HttpResponseStatus.SERVICE_UNAVAILABLE, "upstream_overloaded",
                    "upstream " + name + " has " + config.bulkhead().maxConcurrent() + " requests in flight and "
                            + config.bulkhead().maxPending() + " waiting", null, null, Map.of("x-ward-overloaded", "true")));
        }
        p.addListener(f -> {
            if (f.isCancelled() && w.cancel()) {
                t.cancel(); // gave up while waiting; a slot already handed over is given back by the grant
            }
        });
        return p;
    }

    private BackendException circuitOpen(String message) {
        return new BackendException(HttpResponseStatus.SERVICE_UNAVAILABLE, "circuit_open", message, null, null,
                Map.of("x-ward-circuit", "open"));
    }

    /** The upstream breaker's permit and the bulkhead slot of one request. */
    private final class Ticket implements Admission {
        final boolean permit;
        final long start = System.nanoTime();
        boolean slot;
        boolean done;
        /** The endpoint of the latest try. */
        Endpoint lastEndpoint;

        Ticket(boolean permit) {
            this.permit = permit;
        }

        @Override
        public void end(int status, String failure, long firstByteNanos) {
            if (done) {
                return;
            }
            done = true;
            if (permit) {
                settle(breaker, start, status, failure, firstByteNanos);
            }
            if (slot) {
                bulkhead.exit();
            }
        }

        @Override
        public void cancel() {
            if (done) {
                return;
            }
            done = true;
            if (permit) {
                breaker.releasePermission();
            }
            if (slot) {
                bulkhead.exit();
            }
        }
    }

    private void settle(WatchedBreaker b, long start, int status, String failure, long firstByteNanos) {
        long took = (firstByteNanos > 0 ? firstByteNanos : System.nanoTime()) - start;
        if (failOn.matches(failure, status)) {
            b.onError(took, TimeUnit.NANOSECONDS, FAILED);
        } else if (failure != null || status == 0) {
            b.releasePermission(); // no response, or a failure the config does not count: neither success nor failure
        } else {
            b.onSuccess(took, TimeUnit.NANOSECONDS);
        }
    }

    // --- tries ---

    @Override
    public Future<Upstream> acquire(EventLoop loop) {
        return acquire(loop, null);
    }

    /** A try for an admitted request: a retry goes to another endpoint than the try before, if there is one. */
    @Override
    public Future<Upstream> acquire(EventLoop loop, Admission admission) {
        Ticket ticket = admission instanceof Ticket t ? t : null;
        Endpoint avoid = ticket != null ? ticket.lastEndpoint : null;
        List<Endpoint> eps = endpoints;
        if (eps.isEmpty()) {
            String why = resolveError != null ? " (" + resolveError + ")" : "";
            return loop.newFailedFuture(new BackendException(HttpResponseStatus.SERVICE_UNAVAILABLE, "no_endpoints",
                    "upstream " + name + " has no endpoints" + why, null, null, Map.of()));
        }
        boolean ejecting = breaker != null && eps.size() > 1;
        Endpoint ep = eps.size() == 1 ? (!ejecting || eps.get(0).breaker.tryAcquirePermission() ? eps.get(0) : null)
                : pick(eps, avoid, ejecting);
        if (ep == null) {
            circuitOpenRejections.increment();
            return loop.newFailedFuture(circuitOpen("every endpoint of upstream " + name + " is ejected (circuit open)"));
        }
        Try t = new Try(ep, ejecting);
        ep.inFlight.incrementAndGet();
        if (ticket != null) {
            ticket.lastEndpoint = ep;
        }
        Future<Upstream> f = ep.pool.acquire(loop);
        if (f.isDone()) {
            // The common case (an idle connection, a stream on the open h2 one): no promise of our own.
            if (f.isSuccess()) {
                f.getNow().attach(t);
            } else {
                failed(t, f.cause());
            }
            return f;
        }
        Promise<Upstream> p = loop.newPromise();
        f.addListener(x -> {
            if (f.isSuccess()) {
                Upstream up = f.getNow();
                up.attach(t);
                if (!p.trySuccess(up)) {
                    up.attach(null);
                    t.cancel();
                    ep.pool.release(up, !up.multiplexed() && up.isActive());
                }
            } else if (f.isCancelled()) {
                t.cancel();
            } else {
                failed(t, f.cause());
                p.tryFailure(f.cause());
            }
        });
        p.addListener(x -> {
            if (x.isCancelled()) {
                f.cancel(false);
            }
        });
        return p;
    }

    /** A try that got no connection: settled as the failure the pool names (connect, tls, identity). */
    private static void failed(Try t, Throwable cause) {
        t.finish(0, cause instanceof BackendException be ? be.failure() : Outcomes.CONNECT, 0);
    }

    /**
     * Power of two choices: two distinct endpoints at random (not {@code avoid}, the endpoint the
     * request just failed on, while there are others), the one with fewer tries in flight first.
     * With {@code ejecting}, an endpoint whose breaker is open is skipped; if both are, any endpoint
     * that will take the try, {@code avoid} last. Null: every endpoint is ejected.
     */
    private static Endpoint pick(List<Endpoint> eps, Endpoint avoid, boolean ejecting) {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        int n = eps.size();
        int skip = avoid == null ? -1 : eps.indexOf(avoid);
        int m = skip < 0 ? n : n - 1; // candidates
        Endpoint a = eps.get(index(r.nextInt(m), skip));
        Endpoint b = a;
        if (m > 1) {
            int i = eps.indexOf(a);
            int j;
            do {
                j = index(r.nextInt(m), skip);
            } while (j == i);
            b = eps.get(j);
        }
        if (b.inFlight.get() < a.inFlight.get()) {
            Endpoint x = a;
            a = b;
            b = x;
        }
        if (!ejecting) {
            return a;
        }
        if (a.breaker.tryAcquirePermission()) {
            return a;
        }
        if (b != a && b.breaker.tryAcquirePermission()) {
            return b;
        }
        int start = r.nextInt(n);
        for (int k = 0; k < n; k++) {
            Endpoint e = eps.get((start + k) % n);
            if (e != a && e != b && e != avoid && e.breaker.tryAcquirePermission()) {
                return e;
            }
        }
        return avoid != null && avoid != a && avoid != b && avoid.breaker.tryAcquirePermission() ? avoid : null;
    }

    /** The k-th index of the list with index {@code skip} left out. */
    private static int index(int k, int skip) {
        return skip >= 0 && k >= skip ? k + 1 : k;
    }

    @Override
    public void record(Upstream up, int status, String failure, long firstByteNanos) {
        Try t = up.attachment() instanceof Try x ? x : null;
        if (t != null) {
            t.finish(status, failure, firstByteNanos);
        }
    }

    @Override
    public void release(Upstream up, boolean reusable) {
        Try t = up.attachment() instanceof Try x ? x : null;
        up.attach(null);
        if (t == null) {
            up.close();
            return;
        }
        t.cancel();
        t.ep.pool.release(up, reusable);
    }

    @Override
    public void retire(Upstream up) {
        if (up.attachment() instanceof Try t) {
            t.ep.pool.retire(up);
        }
    }

    /** One try on one endpoint: its in-flight count and, with several endpoints, its breaker's permit. */
    private final class Try {
        final Endpoint ep;
        final boolean permit;
        final long start = System.nanoTime();
        boolean done;

        Try(Endpoint ep, boolean permit) {
            this.ep = ep;
            this.permit = permit;
        }

        void finish(int status, String failure, long firstByteNanos) {
            if (done) {
                return;
            }
            done = true;
            if (permit) {
                settle(ep.breaker, start, status, failure, firstByteNanos);
            }
            ep.inFlight.decrementAndGet();
        }

        void cancel() {
            if (done) {
                return;
            }
            done = true;
            if (permit) {
                ep.breaker.releasePermission();
            }
            ep.inFlight.decrementAndGet();
        }
    }

    // --- endpoints ---

    /** Resolves every entry; keeps the endpoints that remain, adds new ones, retires the gone. */
    void resolveNow() {
        List<InetSocketAddress> found = new ArrayList<>();
        List<String> errors = new ArrayList<>();
        boolean logical = config.address() != null;
        for (HostPort hp : config.endpointEntries()) {
            try {
                if (isLiteral(hp.host())) {
                    found.add(new InetSocketAddress(InetAddress.getByName(hp.host()), hp.port()));
                    continue;
                }
                InetAddress[] all = resolver.resolve(hp.host());
                for (InetAddress a : all) {
                    found.add(new InetSocketAddress(InetAddress.getByAddress(hp.host(), a.getAddress()), hp.port()));
                    if (logical) {
                        break; // address: one logical endpoint, the first answer
                    }
                }
            } catch (UnknownHostException | RuntimeException e) {
                errors.add("cannot resolve " + hp.host() + ": " + e.getMessage());
            }
        }
        if (!errors.isEmpty()) {
            String err = String.join("; ", errors);
            if (!err.equals(resolveError)) {
                log.warn("upstream {}: {}{}", name, err, found.isEmpty() && !endpoints.isEmpty()
                        ? " (keeping the last known endpoints)" : "");
            }
            resolveError = err;
            if (found.isEmpty()) {
                return; // keep the last good endpoints
            }
        } else {
            resolveError = null;
        }
        setEndpoints(found);
    }

    synchronized void setEndpoints(List<InetSocketAddress> addresses) {
        Map<String, Endpoint> old = new LinkedHashMap<>();
        for (Endpoint e : endpoints) {
            old.put(e.key, e);
        }
        List<Endpoint> next = new ArrayList<>();
        for (InetSocketAddress a : addresses) {
            String key = Endpoint.keyOf(a);
            if (next.stream().anyMatch(e -> e.key.equals(key))) {
                continue;
            }
            Endpoint e = old.remove(key);
            if (e == null) {
                e = new Endpoint(a, pools.apply(a), newBreaker(name, key));
            }
            next.add(e);
        }
        if (!old.isEmpty() || next.size() != endpoints.size()) {
            log.info("upstream {}: endpoints {}", name, next);
        }
        endpoints = List.copyOf(next);
        for (Endpoint gone : old.values()) {
            gone.pool.retireGracefully(); // tries in flight on it finish; then its connections close
        }
    }

    private static boolean isLiteral(String host) {
        return NetUtil.isValidIpV4Address(host) || NetUtil.isValidIpV6Address(host);
    }

    public void close() {
        if (poller != null) {
            poller.close();
        }
        for (Endpoint e : endpoints) {
            e.pool.close();
        }
    }

    // --- state, for /upstreams and metrics ---

    @Override
    public String circuitState() {
        return breaker == null ? null : state(breaker.state());
    }

    /** Counters and state for the Prometheus metrics. */
    public dev.ward.telemetry.metrics.SidecarState.Upstream stats() {
        List<Endpoint> eps = endpoints;
        int ejected = 0;
        if (breaker != null && eps.size() > 1) {
            for (Endpoint e : eps) {
                if (e.breaker != null && e.breaker.state() == CircuitBreaker.State.OPEN) {
                    ejected++;
                }
            }
        }
        String st = breaker == null ? "disabled" : state(breaker.state());
        return new dev.ward.telemetry.metrics.SidecarState.Upstream(name, st, circuitOpenRejections.sum(),
                overloadRejections.sum(), resilience.retries(), resilience.retriesDenied(), resilience.timeouts(),
                bulkhead.active(), bulkhead.pending(), eps.size(), ejected);
    }

    /** Open connections across this upstream's endpoints. */
    public int openConnections() {
        int n = 0;
        for (Endpoint e : endpoints) {
            n += e.pool.openConnections();
        }
        return n;
    }

    /** A JSON-ready view: breaker, in flight, rejections, retries, endpoints. */
    public Map<String, Object> snapshot() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", name);
        m.put("identity", config.identity());
        m.put("circuit", breakerView(breaker));
        m.put("inFlight", bulkhead.active());
        m.put("pending", bulkhead.pending());
        m.put("rejected", Map.of("circuitOpen", circuitOpenRejections.sum(), "overloaded", overloadRejections.sum()));
        m.put("retries", resilience.retries());
        m.put("retriesDenied", resilience.retriesDenied());
        m.put("retryBudgetAvailable", resilience.budgetAvailable());
        m.put("timeouts", resilience.timeouts());
        if (resolveError != null) {
            m.put("resolveError", resolveError);
        }
        List<Map<String, Object>> eps = new ArrayList<>();
        boolean ejecting = breaker != null && endpoints.size() > 1;
        for (Endpoint e : endpoints) {
            Map<String, Object> em = new LinkedHashMap<>();
            em.put("address", e.key);
            em.put("host", e.address.getHostString());
            em.put("circuit", ejecting ? breakerView(e.breaker) : Map.of("state", "unused"));
            em.put("inFlight", e.inFlight.get());
            eps.add(em);
        }
        m.put("endpoints", eps);
        return m;
    }

    private static Map<String, Object> breakerView(WatchedBreaker b) {
        Map<String, Object> m = new LinkedHashMap<>();
        if (b == null) {
            m.put("state", "disabled");
            return m;
        }
        CircuitBreaker.Metrics x = b.metrics();
        m.put("state", state(b.state()));
        m.put("failureRate", x.getFailureRate());
        m.put("slowCallRate", x.getSlowCallRate());
        m.put("calls", x.getNumberOfBufferedCalls());
        m.put("failedCalls", x.getNumberOfFailedCalls());
        m.put("slowCalls", x.getNumberOfSlowCalls());
        m.put("notPermittedCalls", x.getNumberOfNotPermittedCalls());
        return m;
    }

    /** Counted as a failure by a breaker; carries no stack trace. */
    private static final class TryFailed extends RuntimeException {
        TryFailed() {
            super("try failed", null, false, false);
        }
    }
}
