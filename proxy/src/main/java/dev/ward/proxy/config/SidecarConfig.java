package dev.ward.proxy.config;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
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
 * own replies) or {@code all}.
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
        PolicyFile policy) {

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
        return new SidecarConfig(null, null, null, null, null, null, null, null, null);
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
     */
    public record Upstream(HostPort address, String identity, HostPort listen, List<String> hosts,
                           UpstreamProtocol protocol, Duration connectTimeout) {
        public Upstream {
            hosts = hosts != null ? List.copyOf(hosts) : List.of();
            protocol = protocol != null ? protocol : UpstreamProtocol.H2;
            connectTimeout = connectTimeout != null ? connectTimeout : Duration.ofSeconds(2);
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
