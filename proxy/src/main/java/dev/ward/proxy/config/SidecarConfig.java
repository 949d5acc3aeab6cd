package dev.ward.proxy.config;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.ward.proxy.transport.Transport;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The sidecar's configuration, as read from YAML or JSON by {@link ConfigLoader}. Every field
 * has a default; an absent field takes it. Where absent and empty differ it is said below.
 * Immutable once loaded. {@code workers}: event-loop threads (absent: 2, or 1 on one CPU);
 * {@code accessLog}: {@code off}, {@code errors} (default: statuses of 400 and above and Ward's
 * own replies) or {@code all}. {@code accessLogFile}, {@code auditLogFile}: append those logs to
 * a file instead of standard output (relative paths are relative to the config file).
 * {@code transport}: the socket transport, {@code auto} (default: epoll, or NIO where epoll cannot
 * load), {@code epoll}, {@code io_uring} or {@code nio} ({@link Transport}).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record SidecarConfig(
        Identity identity,
        Tls tls,
        Inbound inbound,
        Outbound outbound,
        Admin admin,
        Limits limits,
        AccessLogMode accessLog,
        Integer workers,
        PolicyFile policy,
        Tracing tracing,
        Path accessLogFile,
        Path auditLogFile,
        Transport transport) {

    public SidecarConfig {
        identity = identity != null ? identity : new Identity(null, null, null, null, null);
        tls = tls != null ? tls : new Tls(null, null);
        inbound = inbound != null ? inbound : new Inbound(null, null, null, null, null);
        outbound = outbound != null ? outbound : new Outbound(null, null);
        admin = admin != null ? admin : new Admin(null);
        limits = limits != null ? limits : new Limits(null, null, null, null, null, null, null);
        accessLog = accessLog != null ? accessLog : AccessLogMode.ERRORS;
        workers = workers != null ? workers : Math.min(2, Runtime.getRuntime().availableProcessors());
        policy = policy != null ? policy : new PolicyFile(null, null, null);
        tracing = tracing != null ? tracing : new Tracing(null, null, null, null, null);
        transport = transport != null ? transport : Transport.AUTO;
    }

    /**
     * Traces. Every field is optional; where the config is silent the {@code OTEL_*} environment
     * variables decide, and where they are silent too, Ward's defaults. {@code exporter}:
     * {@code otlp} (gRPC, 4317), {@code otlp-http} (HTTP/protobuf, 4318), {@code zipkin} (v2 JSON,
     * 9411) or {@code none}; setting an {@code endpoint} alone implies {@code otlp}; with neither
     * (nor {@code OTEL_TRACES_EXPORTER} or an {@code OTEL_EXPORTER_OTLP_*ENDPOINT}) tracing is off.
     * {@code sampling}: the ratio of root traces sampled (default 0.01); a caller's sampled
     * {@code traceparent} is always continued. {@code propagators}: {@code tracecontext}
     * (default), {@code baggage}, {@code b3}, {@code b3multi}. {@code serviceName}: default the
     * policy's service, else the SPIFFE id's last segment.
     */
    public record Tracing(String exporter, String endpoint, Double sampling, List<String> propagators, String serviceName) {
        public Tracing {
            // Validates with the same rules as the tracer (the error names the field).
            new dev.ward.telemetry.tracing.Tracing.Settings(exporter, endpoint, sampling, propagators, serviceName, null, null);
            propagators = propagators == null ? null : List.copyOf(propagators);
        }
    }

    /**
     * Where the authorization policy comes from. {@code file} absent: {@code inbound.allow} is the
     * policy (those callers may make any request). The file is polled every {@code reloadInterval}
     * ({@code 0s}: never) and a valid new version replaces the old one atomically.
     * {@code readyWithoutKeys}: absent or false, {@code /readyz} stays 503 while a token issuer's
     * keys were never loaded; true, the sidecar reports ready anyway (tokens of that issuer are
     * refused until its keys arrive).
     */
    public record PolicyFile(Path file, Duration reloadInterval, Boolean readyWithoutKeys) {
        public PolicyFile {
            reloadInterval = reloadInterval != null ? reloadInterval : Duration.ofSeconds(2);
            readyWithoutKeys = readyWithoutKeys != null ? readyWithoutKeys : Boolean.FALSE;
        }
    }

    /** All defaults. */
    public static SidecarConfig defaults() {
        return new SidecarConfig(null, null, null, null, null, null, null, null, null, null, null, null, null);
    }

    /**
     * Where this sidecar's certificate, key and trust bundle are read from. The files are polled
     * every {@code reloadInterval} ({@code 0s}: never) and swapped atomically when they change.
     * {@code trustDomain} absent: the trust domain of this sidecar's own certificate.
     */
    public record Identity(Path cert, Path key, Path bundle, String trustDomain, Duration reloadInterval) {
        public Identity {
            cert = cert != null ? cert : Path.of("/var/run/ward/tls.crt");
            key = key != null ? key : Path.of("/var/run/ward/tls.key");
            bundle = bundle != null ? bundle : Path.of("/var/run/ward/ca.crt");
            reloadInterval = reloadInterval != null ? reloadInterval : Duration.ofSeconds(2);
        }
    }

    /** TLS engine. {@code provider: jdk} is an explicit opt-out of BoringSSL. */
    public record Tls(TlsProvider provider, Duration handshakeTimeout) {
        public Tls {
            provider = provider != null ? provider : TlsProvider.OPENSSL;
            handshakeTimeout = handshakeTimeout != null ? handshakeTimeout : Duration.ofSeconds(10);
        }
    }

    public enum TlsProvider {
        @JsonProperty("openssl") OPENSSL,
        @JsonProperty("jdk") JDK
    }

    public enum Protocol {
        @JsonProperty("http") HTTP,
        @JsonProperty("tcp") TCP
    }

    public enum UpstreamProtocol {
        /** Offer h2 and http/1.1 by ALPN; h2 multiplexes requests over one connection. */
        @JsonProperty("h2") H2,
        /** http/1.1 only, with pooled keep-alive connections. */
        @JsonProperty("http1") HTTP1
    }

    public enum AccessLogMode {
        OFF, ERRORS, ALL;

        /** Accepts {@code off|errors|all}, and YAML 1.1's booleans that an unquoted {@code off} becomes. */
        @com.fasterxml.jackson.annotation.JsonCreator
        public static AccessLogMode of(Object value) {
            if (value instanceof Boolean b) {
                return b ? ALL : OFF;
            }
            String v = String.valueOf(value).trim().toLowerCase(java.util.Locale.ROOT);
            return switch (v) {
                case "off", "false", "no" -> OFF;
                case "errors" -> ERRORS;
                case "all", "on", "true", "yes" -> ALL;
                default -> throw new IllegalArgumentException("accessLog: " + value + " (expected: off, errors or all)");
            };
        }

        @com.fasterxml.jackson.annotation.JsonValue
        public String text() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * mTLS listener for calls to this sidecar's app. {@code allow} absent or empty: every peer is
     * denied (default deny); {@code ["*"]}: any authenticated peer of the trust domain.
     * {@code enabled: false} starts no inbound listener (an outbound-only sidecar).
     */
    public record Inbound(Boolean enabled, HostPort listen, HostPort app, Protocol protocol, List<String> allow) {
        public Inbound {
            enabled = enabled != null ? enabled : Boolean.TRUE;
            listen = listen != null ? listen : HostPort.parse("0.0.0.0:15006");
            app = app != null ? app : HostPort.parse("127.0.0.1:8080");
            protocol = protocol != null ? protocol : Protocol.HTTP;
            allow = allow != null ? List.copyOf(allow) : List.of();
        }
    }

    /**
     * Plain-HTTP listener for the app's outgoing calls. {@code listen} routes by Host (or by the
     * absolute URI when the app uses Ward as its HTTP proxy); each upstream may also get a port
     * of its own. It binds to loopback by default and should never be exposed.
     */
    public record Outbound(HostPort listen, Map<String, Upstream> upstreams) {
        public Outbound {
            listen = listen != null ? listen : HostPort.parse("127.0.0.1:15001");
            upstreams = upstreams != null ? new LinkedHashMap<>(upstreams) : new LinkedHashMap<>();
        }
    }

    /**
     * One service this sidecar's app calls. {@code identity} is required: the server's SPIFFE id
     * must equal it or the connection is never used. {@code hosts} absent: just the upstream's
     * name. {@code listen} absent: reachable only through the shared outbound listener.
     *
     * <p>Where it is: exactly one of {@code address} (one logical endpoint: a DNS name is
     * re-resolved every {@code resolveInterval} and its first address used, like a Kubernetes
     * ClusterIP service) or {@code endpoints} (each entry, and each address a DNS name resolves
     * to, is an endpoint of its own, load-balanced and ejected separately: a headless service or a
     * static list).
     */
    public record Upstream(HostPort address, List<HostPort> endpoints, Duration resolveInterval, String identity,
                           HostPort listen, List<String> hosts, UpstreamProtocol protocol, Timeouts timeouts,
                           CircuitBreaker circuitBreaker, Retry retry, Bulkhead bulkhead) {
        public Upstream {
            endpoints = endpoints != null ? List.copyOf(endpoints) : List.of();
            resolveInterval = resolveInterval != null ? resolveInterval : Duration.ofSeconds(30);
            hosts = hosts != null ? List.copyOf(hosts) : List.of();
            protocol = protocol != null ? protocol : UpstreamProtocol.H2;
            timeouts = timeouts != null ? timeouts : new Timeouts(null, null, null, null);
            circuitBreaker = circuitBreaker != null ? circuitBreaker
                    : new CircuitBreaker(null, null, null, null, null, null, null, null, null, null);
            retry = retry != null ? retry : new Retry(null, null, null, null, null, null, null);
            bulkhead = bulkhead != null ? bulkhead : new Bulkhead(null, null);
        }

        /** The configured endpoint entries: {@code endpoints}, or just {@code address}. */
        public List<HostPort> endpointEntries() {
            return address != null ? List.of(address) : endpoints;
        }
    }

    /**
     * {@code connect}: TCP connect (the TLS handshake has {@code tls.handshakeTimeout});
     * {@code firstByte}: from when a try starts (waiting for a connection included) until the
     * response headers arrive; {@code total}: from the request's arrival until the last byte of the
     * response, retries included ({@code 0s}: no limit, the default, since responses may stream);
     * {@code idle}: how long an unused pooled connection is kept.
     */
    public record Timeouts(Duration connect, Duration firstByte, Duration total, Duration idle) {
        public Timeouts {
            connect = connect != null ? connect : Duration.ofSeconds(2);
            firstByte = firstByte != null ? firstByte : Duration.ofSeconds(15);
            total = total != null ? total : Duration.ZERO;
            idle = idle != null ? idle : Duration.ofSeconds(60);
        }
    }

    /**
     * The upstream's circuit breaker (and, with several endpoints, each endpoint's, which ejects
     * it). Rates are percentages. {@code slidingWindowType: count} keeps the last
     * {@code slidingWindowSize} calls; {@code time}, the calls of the last {@code slidingWindowSize}
     * seconds. Nothing is decided before {@code minimumCalls}. Open, every request is answered
     * 503 at once for {@code openFor}; then {@code halfOpenCalls} probes decide. {@code failOn}:
     * what counts as a failure: {@code connect}, {@code tls}, {@code identity}, {@code timeout},
     * {@code reset}, and response status codes.
     */
    public record CircuitBreaker(Boolean enabled, Float failureRateThreshold, Float slowCallRateThreshold,
                                 Duration slowCallDuration, WindowType slidingWindowType, Integer slidingWindowSize,
                                 Integer minimumCalls, Duration openFor, Integer halfOpenCalls, List<String> failOn) {
        public static final List<String> DEFAULT_FAIL_ON =
                List.of("connect", "tls", "identity", "timeout", "reset", "502", "503", "504");

        public CircuitBreaker {
            enabled = enabled != null ? enabled : Boolean.TRUE;
            failureRateThreshold = failureRateThreshold != null ? failureRateThreshold : 50f;
            slowCallRateThreshold = slowCallRateThreshold != null ? slowCallRateThreshold : 100f;
            slowCallDuration = slowCallDuration != null ? slowCallDuration : Duration.ofSeconds(10);
            slidingWindowType = slidingWindowType != null ? slidingWindowType : WindowType.COUNT;
            slidingWindowSize = slidingWindowSize != null ? slidingWindowSize : 20;
            minimumCalls = minimumCalls != null ? minimumCalls : 10;
            openFor = openFor != null ? openFor : Duration.ofSeconds(10);
            halfOpenCalls = halfOpenCalls != null ? halfOpenCalls : 3;
            failOn = failOn != null ? List.copyOf(failOn) : DEFAULT_FAIL_ON;
        }
    }

    public enum WindowType {
        @JsonProperty("count") COUNT,
        @JsonProperty("time") TIME
    }

    /**
     * Retries: at most {@code attempts} more tries of a request whose method is in {@code methods}
     * and whose body is absent or at most {@code maxBufferedBody} bytes (kept to be sent again),
     * when the try failed in one of the {@code on} ways ({@code connect}, {@code tls},
     * {@code reset} before any response, {@code timeout}, or a status code). Each waits a random
     * time up to {@code backoff} × 2^(try−1), capped at {@code maxBackoff}. All retries of the
     * upstream share a {@link Budget}.
     */
    public record Retry(Integer attempts, List<String> methods, List<String> on, Integer maxBufferedBody,
                        Duration backoff, Duration maxBackoff, Budget budget) {
        public static final List<String> DEFAULT_METHODS = List.of("GET", "HEAD", "OPTIONS", "PUT", "DELETE");
        public static final List<String> DEFAULT_ON = List.of("connect", "reset", "503");

        public Retry {
            attempts = attempts != null ? attempts : 2;
            methods = methods != null ? List.copyOf(methods) : DEFAULT_METHODS;
            on = on != null ? List.copyOf(on) : DEFAULT_ON;
            maxBufferedBody = maxBufferedBody != null ? maxBufferedBody : 64 * 1024;
            backoff = backoff != null ? backoff : Duration.ofMillis(25);
            maxBackoff = maxBackoff != null ? maxBackoff : Duration.ofMillis(250);
            budget = budget != null ? budget : new Budget(null, null, null);
        }
    }

    /**
     * Retries may be at most {@code ratio} of the requests of the last {@code window}, plus
     * {@code minPerSecond} per second of it, so that retries never multiply the load on an
     * upstream that is down (linkerd's retry budget).
     */
    public record Budget(Float ratio, Integer minPerSecond, Duration window) {
        public Budget {
            ratio = ratio != null ? ratio : 0.2f;
            minPerSecond = minPerSecond != null ? minPerSecond : 10;
            window = window != null ? window : Duration.ofSeconds(10);
        }
    }

    /**
     * At most {@code maxConcurrent} requests in flight to the upstream and {@code maxPending}
     * waiting for a turn; beyond that, 503 with {@code x-ward-overloaded: true}.
     */
    public record Bulkhead(Integer maxConcurrent, Integer maxPending) {
        public Bulkhead {
            maxConcurrent = maxConcurrent != null ? maxConcurrent : 1024;
            maxPending = maxPending != null ? maxPending : 1024;
        }
    }

    /** Local admin listener: {@code /healthz}, {@code /readyz}, {@code /config}. */
    public record Admin(HostPort listen) {
        public Admin {
            listen = listen != null ? listen : HostPort.parse("127.0.0.1:15000");
        }
    }

    /** Protection limits, per listener. */
    public record Limits(Integer maxHeaderSize, Integer maxInitialLineLength, Duration headerReadTimeout,
                         Duration idleTimeout, Integer maxConnections, Integer maxConcurrentStreams,
                         Duration drainTimeout) {
        public Limits {
            maxHeaderSize = maxHeaderSize != null ? maxHeaderSize : 16 * 1024;
            maxInitialLineLength = maxInitialLineLength != null ? maxInitialLineLength : 8 * 1024;
            headerReadTimeout = headerReadTimeout != null ? headerReadTimeout : Duration.ofSeconds(10);
            idleTimeout = idleTimeout != null ? idleTimeout : Duration.ofMinutes(5);
            maxConnections = maxConnections != null ? maxConnections : 10_000;
            maxConcurrentStreams = maxConcurrentStreams != null ? maxConcurrentStreams : 256;
            drainTimeout = drainTimeout != null ? drainTimeout : Duration.ofSeconds(20);
        }
    }
}
