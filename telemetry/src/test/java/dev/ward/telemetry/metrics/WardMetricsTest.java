package dev.ward.telemetry.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WardMetricsTest {

    static String scrape(WardMetrics m, String accept) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        m.write(out, accept);
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void requestsAreCountedByTargetMethodAndStatusClassWithBoundedLabels() throws Exception {
        WardMetrics m = new WardMetrics("1.2.3");
        WardMetrics.Target orders = m.outbound("orders");
        orders.started();
        orders.ended("GET", 200, 2_000_000);
        orders.started();
        orders.ended("GET", 204, 3_000_000);
        orders.started();
        orders.ended("BREW", 503, 1_000_000); // not a standard method: _OTHER
        String text = scrape(m, null);
        assertThat(text).contains("ward_outbound_requests_total{method=\"GET\",status_class=\"2xx\",upstream=\"orders\"} 2.0")
                .contains("ward_outbound_requests_total{method=\"_OTHER\",status_class=\"5xx\",upstream=\"orders\"} 1.0")
                .contains("ward_outbound_request_duration_seconds_bucket{method=\"GET\",status_class=\"2xx\",upstream=\"orders\",le=\"0.0025\"} 1")
                .contains("ward_outbound_request_duration_seconds_count{method=\"GET\",status_class=\"2xx\",upstream=\"orders\"} 2")
                .contains("ward_outbound_requests_active 0.0")
                .contains("ward_build_info{version=\"1.2.3\"} 1.0")
                .contains("# TYPE ward_outbound_request_duration_seconds histogram")
                .doesNotContain("BREW");
    }

    /** Decisions are counted by result, rule and reason, the same whether their data point was cached or not. */
    @Test
    void authzDecisionsAreCountedPerResultRuleAndReason() throws Exception {
        WardMetrics m = new WardMetrics("1");
        for (int i = 0; i < 3; i++) {
            m.authz("allow", "frontend-reads", null);
        }
        m.authz("deny", null, "no_matching_rule");
        m.authz("deny", null, new String("no_matching_rule")); // an equal reason, another instance
        m.authz("audit_deny", "frontend-reads", "no_matching_rule"); // same rule, other result
        for (int i = 0; i < 40; i++) { // more reasons than one rule caches: counted all the same
            m.authz("deny", "r", "reason_" + i);
        }
        m.authz("deny", "r", "reason_39");
        String text = scrape(m, null);
        assertThat(text).contains("ward_authz_decisions_total{reason=\"\",result=\"allow\",rule=\"frontend-reads\"} 3.0")
                .contains("ward_authz_decisions_total{reason=\"no_matching_rule\",result=\"deny\",rule=\"\"} 2.0")
                .contains("ward_authz_decisions_total{reason=\"no_matching_rule\",result=\"audit_deny\",rule=\"frontend-reads\"} 1.0")
                .contains("ward_authz_decisions_total{reason=\"reason_0\",result=\"deny\",rule=\"r\"} 1.0")
                .contains("ward_authz_decisions_total{reason=\"reason_39\",result=\"deny\",rule=\"r\"} 2.0");
    }

    @Test
    void stateIsReadAtScrapeTime() throws Exception {
        WardMetrics m = new WardMetrics("1");
        long[] rejected = {0};
        m.register(new SidecarState() {
            public Map<String, Integer> openConnections() {
                return Map.of("inbound", 3);
            }

            public Map<String, Integer> pooledConnections() {
                return Map.of("orders", 2);
            }

            public List<Upstream> upstreams() {
                return List.of(new Upstream("orders", rejected[0] > 0 ? "open" : "closed", rejected[0], 0, 4, 1, 2, 0, 0, 2, 1));
            }

            public Map<String, Long> handshakes() {
                return Map.of("inbound", 10L, "outbound", 5L);
            }

            public Map<String, Map<String, Long>> handshakeFailures() {
                return Map.of("inbound", Map.of("unknown_ca", 2L));
            }

            public Instant leafNotAfter() {
                return Instant.ofEpochSecond(2_000_000_000L);
            }

            public Instant bundleEarliestNotAfter() {
                return Instant.ofEpochSecond(1_900_000_000L);
            }

            public Policy policy() {
                return new Policy("orders", "7", Instant.ofEpochSecond(1_800_000_000L), "/etc/ward/policy.yaml");
            }
        });
        assertThat(scrape(m, null)).contains("ward_circuit_breaker_state{state=\"closed\",upstream=\"orders\"} 1.0")
                .contains("ward_circuit_breaker_state{state=\"open\",upstream=\"orders\"} 0.0");
        rejected[0] = 9;
        String text = scrape(m, null);
        assertThat(text).contains("ward_circuit_breaker_state{state=\"open\",upstream=\"orders\"} 1.0")
                .contains("ward_upstream_rejected_requests_total{reason=\"circuit_open\",upstream=\"orders\"} 9.0")
                .contains("ward_connections_active{listener=\"inbound\"} 3.0")
                .contains("ward_tls_handshakes_total{direction=\"inbound\"} 10.0")
                .contains("ward_tls_handshake_failures_total{direction=\"inbound\",reason=\"unknown_ca\"} 2.0")
                .contains("ward_certificate_expiry_timestamp_seconds{certificate=\"leaf\"} 2.0E9")
                .contains("ward_policy_info{service=\"orders\",source=\"/etc/ward/policy.yaml\",version=\"7\"} 1.0")
                .contains("ward_upstream_endpoints{state=\"ejected\",upstream=\"orders\"} 1.0");
    }

    @Test
    void openMetricsWhenAskedFor() throws Exception {
        WardMetrics m = new WardMetrics("1");
        String accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
        assertThat(m.contentType(accept)).startsWith("application/openmetrics-text");
        assertThat(scrape(m, accept)).endsWith("# EOF\n");
        assertThat(m.contentType(null)).startsWith("text/plain; version=0.0.4");
    }
}
