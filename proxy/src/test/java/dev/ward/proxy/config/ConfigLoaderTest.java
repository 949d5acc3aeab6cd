package dev.ward.proxy.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class ConfigLoaderTest {

    @Test
    void emptyConfigTakesEveryDefault() throws Exception {
        SidecarConfig c = ConfigLoader.parse("", "t");
        assertThat(c.inbound().listen()).hasToString("0.0.0.0:15006");
        assertThat(c.inbound().app()).hasToString("127.0.0.1:8080");
        assertThat(c.inbound().allow()).isEmpty();
        assertThat(c.outbound().listen()).hasToString("127.0.0.1:15001");
        assertThat(c.admin().listen()).hasToString("127.0.0.1:15000");
        assertThat(c.tls().provider()).isEqualTo(SidecarConfig.TlsProvider.OPENSSL);
        assertThat(c.limits().drainTimeout()).isEqualTo(Duration.ofSeconds(20));
    }

    @Test
    void readsAFullConfig() throws Exception {
        SidecarConfig c = ConfigLoader.parse("""
                identity: { cert: /c, key: /k, bundle: /b, reloadInterval: 500ms }
                inbound: { listen: "[::1]:9000", app: 127.0.0.1:9001, protocol: tcp, allow: ["spiffe://td/ns/a/*", "*"] }
                outbound:
                  upstreams:
                    orders: { address: orders.svc:15006, identity: spiffe://td/ns/shop/sa/orders, hosts: [orders.shop.svc], protocol: http1, timeouts: { connect: 1s } }
                accessLog: off
                limits: { idleTimeout: 1m, maxConnections: 7 }
                """, "t");
        assertThat(c.identity().reloadInterval()).isEqualTo(Duration.ofMillis(500));
        assertThat(c.inbound().listen().host()).isEqualTo("::1");
        assertThat(c.inbound().protocol()).isEqualTo(SidecarConfig.Protocol.TCP);
        assertThat(c.outbound().upstreams().get("orders").protocol()).isEqualTo(SidecarConfig.UpstreamProtocol.HTTP1);
        assertThat(c.accessLog()).isEqualTo(SidecarConfig.AccessLogMode.OFF);
        assertThat(c.limits().maxConnections()).isEqualTo(7);
        assertThat(c.limits().idleTimeout()).isEqualTo(Duration.ofMinutes(1));
    }

    @Test
    void unknownFieldIsNamedWithItsPathAndTheKnownOnes() {
        assertThatThrownBy(() -> ConfigLoader.parse("inbound: { lisen: 0.0.0.0:1 }", "sidecar.yaml"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("sidecar.yaml")
                .hasMessageContaining("inbound.lisen: unknown field")
                .hasMessageContaining("listen");
    }

    @Test
    void badValuesAreNamed() {
        assertThatThrownBy(() -> ConfigLoader.parse("limits: { idleTimeout: 5 minutes }", "t"))
                .hasMessageContaining("limits.idleTimeout").hasMessageContaining("duration");
        assertThatThrownBy(() -> ConfigLoader.parse("inbound: { app: localhost }", "t"))
                .hasMessageContaining("inbound.app").hasMessageContaining("host:port");
        assertThatThrownBy(() -> ConfigLoader.parse("inbound: { protocol: udp }", "t"))
                .hasMessageContaining("inbound.protocol").hasMessageContaining("udp");
        assertThatThrownBy(() -> ConfigLoader.parse("accessLog: verbose", "t")).hasMessageContaining("off, errors or all");
        assertThatThrownBy(() -> ConfigLoader.parse("inbound: {", "t")).hasMessageContaining("not valid YAML");
        assertThatThrownBy(() -> ConfigLoader.parse("inbound: [1]", "t"))
                .hasMessageContaining("inbound: wrong type").hasMessageContaining("a mapping").hasMessageNotContaining("SidecarConfig");
        assertThatThrownBy(() -> ConfigLoader.parse("limits: { maxConnections: lots }", "t"))
                .hasMessageContaining("limits.maxConnections").hasMessageContaining("a whole number");
    }

    @Test
    void listsEveryProblemAtOnce() {
        assertThatThrownBy(() -> ConfigLoader.parse("""
                inbound: { allow: [ "dns:orders" ] }
                outbound:
                  listen: 127.0.0.1:15000
                  upstreams:
                    orders: { address: 127.0.0.1:0 }
                    payments: { address: p:1, identity: "http://nope", hosts: [orders] }
                limits: { maxConnections: 0 }
                """, "t"))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems()).containsExactlyInAnyOrder(
                        "inbound.allow[0]: spiffe id: dns:orders (expected: scheme spiffe://)",
                        "outbound.listen: 127.0.0.1:15000 is already used by admin.listen",
                        "outbound.upstreams.orders.address: port 0 (expected: the upstream's real port)",
                        "outbound.upstreams.orders.identity: required (expected: the upstream's spiffe:// id)",
                        "outbound.upstreams.payments.identity: spiffe id: http://nope (expected: scheme spiffe://)",
                        "outbound.upstreams.payments.hosts: 'orders' is already routed to outbound.upstreams.orders",
                        "limits.maxConnections: 0 (expected: a positive number)"));
    }

    @Test
    void relativeIdentityPathsAreReadFromTheConfigFilesDirectory(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp)
            throws Exception {
        java.nio.file.Path cfg = java.nio.file.Files.writeString(tmp.resolve("sidecar.yaml"),
                "identity: { cert: certs/tls.crt, key: /abs/tls.key }\n");
        SidecarConfig c = ConfigLoader.load(cfg);
        assertThat(c.identity().cert()).isEqualTo(tmp.resolve("certs/tls.crt"));
        assertThat(c.identity().key()).hasToString("/abs/tls.key");
        assertThat(ConfigLoader.jsonWriter().writeValueAsString(c)).contains("\"cert\":\"" + tmp.resolve("certs/tls.crt") + "\"")
                .doesNotContain("file:").doesNotContain("null");
    }

    @Test
    void durationsRoundTrip() {
        assertThat(Durations.parse("250ms")).isEqualTo(Duration.ofMillis(250));
        assertThat(Durations.parse("24h")).isEqualTo(Duration.ofHours(24));
        assertThat(Durations.format(Duration.ofSeconds(90))).isEqualTo("90s");
        assertThat(Durations.format(Duration.ofMinutes(5))).isEqualTo("5m");
        assertThatThrownBy(() -> Durations.parse("-1s")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void resilienceDefaultsAreSensible() throws Exception {
        SidecarConfig c = ConfigLoader.parse("outbound: { upstreams: { orders: { address: o:1, identity: spiffe://td/sa/o } } }", "t");
        SidecarConfig.Upstream u = c.outbound().upstreams().get("orders");
        assertThat(u.timeouts().connect()).hasSeconds(2);
        assertThat(u.timeouts().firstByte()).hasSeconds(15);
        assertThat(u.timeouts().total()).isZero();
        assertThat(u.circuitBreaker().enabled()).isTrue();
        assertThat(u.circuitBreaker().failOn()).contains("connect", "reset", "503").doesNotContain("404");
        assertThat(u.retry().methods()).containsExactly("GET", "HEAD", "OPTIONS", "PUT", "DELETE");
        assertThat(u.retry().budget().ratio()).isEqualTo(0.2f);
        assertThat(u.bulkhead().maxConcurrent()).isEqualTo(1024);
        assertThat(u.endpointEntries()).containsExactly(HostPort.parse("o:1"));
    }

    @Test
    void resilienceMistakesAreNamedWithTheirPath() {
        assertThatThrownBy(() -> ConfigLoader.parse("""
                outbound:
                  upstreams:
                    orders:
                      address: o:1
                      endpoints: [o:2]
                      identity: spiffe://td/sa/o
                      timeouts: { firstByte: 0s }
                      circuitBreaker: { failureRateThreshold: -5, slowCallRateThreshold: 150, minimumCalls: 50, slidingWindowSize: 10, failOn: [connect, 999, flaky] }
                      retry: { attempts: -1, methods: [GET, FETCH], on: [identity], budget: { ratio: 2, window: 0s } }
                      bulkhead: { maxConcurrent: 0, maxPending: -1 }
                """, "t")).isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems()).contains(
                "outbound.upstreams.orders: address and endpoints both set (expected: one of them)",
                "outbound.upstreams.orders.timeouts.firstByte: must be positive",
                "outbound.upstreams.orders.circuitBreaker.failureRateThreshold: -5.0 (expected: a percentage above 0, at most 100)",
                "outbound.upstreams.orders.circuitBreaker.slowCallRateThreshold: 150.0 (expected: a percentage above 0, at most 100)",
                "outbound.upstreams.orders.retry.attempts: -1 (expected: 0 or more)",
                "outbound.upstreams.orders.retry.methods: unknown method 'FETCH' (expected some of: DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT, TRACE)",
                "outbound.upstreams.orders.retry.on: 'identity' (an upstream presenting the wrong identity is never retried)",
                "outbound.upstreams.orders.bulkhead.maxConcurrent: 0 (expected: 1 or more)",
                "outbound.upstreams.orders.bulkhead.maxPending: -1 (expected: 0 or more)")
                .anySatisfy(p -> assertThat(p).startsWith("outbound.upstreams.orders.circuitBreaker.minimumCalls: 50 is more than"))
                .anySatisfy(p -> assertThat(p).startsWith("outbound.upstreams.orders.circuitBreaker.failOn: unknown outcome '999'"))
                .anySatisfy(p -> assertThat(p).startsWith("outbound.upstreams.orders.circuitBreaker.failOn: unknown outcome 'flaky'"))
                .anySatisfy(p -> assertThat(p).startsWith("outbound.upstreams.orders.retry.budget.ratio: 2.0"))
                .anySatisfy(p -> assertThat(p).startsWith("outbound.upstreams.orders.retry.budget.window: 0s")));
        assertThatThrownBy(() -> ConfigLoader.parse(
                "outbound: { upstreams: { orders: { address: o:1, identity: spiffe://td/sa/o, timeouts: { total: -1s } } } }", "t"))
                .hasMessageContaining("outbound.upstreams.orders.timeouts.total").hasMessageContaining("duration");
        assertThatThrownBy(() -> ConfigLoader.parse(
                "outbound: { upstreams: { orders: { identity: spiffe://td/sa/o, circuitBreaker: { slidingWindowType: sliding } } } }", "t"))
                .hasMessageContaining("outbound.upstreams.orders.circuitBreaker.slidingWindowType").hasMessageContaining("count");
        assertThatThrownBy(() -> ConfigLoader.parse(
                "outbound: { upstreams: { orders: { identity: spiffe://td/sa/o, connectTimeout: 1s } } }", "t"))
                .hasMessageContaining("outbound.upstreams.orders.connectTimeout: unknown field").hasMessageContaining("timeouts");
    }
}
