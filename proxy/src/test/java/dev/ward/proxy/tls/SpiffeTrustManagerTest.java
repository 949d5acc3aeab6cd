package dev.ward.proxy.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ward.authz.identity.SpiffeId;
import dev.ward.proxy.certs.DevCertificateAuthority;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;

class SpiffeTrustManagerTest {

    private final DevCertificateAuthority ca = DevCertificateAuthority.create("a.test", Duration.ofDays(10));
    private final SpiffeId frontend = SpiffeId.parse("spiffe://a.test/ns/x/sa/frontend");
    private final HandshakeRefusals refusals = new HandshakeRefusals();

    private SpiffeTrustManager tm(Clock clock, X509Certificate... bundle) {
        return new SpiffeTrustManager(List.of(bundle), "a.test", clock, refusals);
    }

    private static X509Certificate[] chain(DevCertificateAuthority.Leaf leaf) {
        return new X509Certificate[] {leaf.certificate()};
    }

    private String reason(SpiffeTrustManager tm, X509Certificate[] chain) {
        try {
            tm.verify(chain);
            return "accepted";
        } catch (PeerVerificationException e) {
            return e.reason();
        }
    }

    @Test
    void acceptsALeafOfTheTrustDomainAndReturnsItsId() throws Exception {
        assertThat(tm(Clock.systemUTC(), ca.certificate()).verify(chain(ca.issue(frontend, Duration.ofHours(1))))).isEqualTo(frontend);
    }

    @Test
    void refusesWithAReasonForEachWayToBeWrong() {
        SpiffeTrustManager tm = tm(Clock.systemUTC(), ca.certificate());
        Instant now = Instant.now();
        assertThat(reason(tm, chain(ca.issue(frontend, now.minusSeconds(7200), now.minusSeconds(3600))))).isEqualTo("expired");
        assertThat(reason(tm, chain(ca.issue(frontend, now.plusSeconds(3600), now.plusSeconds(7200))))).isEqualTo("not_yet_valid");
        DevCertificateAuthority other = DevCertificateAuthority.create("a.test", Duration.ofDays(1));
        assertThat(reason(tm, chain(other.issue(frontend, Duration.ofHours(1))))).isEqualTo("unknown_ca");
        assertThat(reason(tm, new X509Certificate[] {ca.certificate()})).isEqualTo("leaf_is_ca");
        assertThat(reason(tm, new X509Certificate[0])).isEqualTo("no_certificate");
        DevCertificateAuthority b = DevCertificateAuthority.create("b.test", Duration.ofDays(1));
        SpiffeTrustManager federated = tm(Clock.systemUTC(), ca.certificate(), b.certificate());
        assertThat(reason(federated, chain(b.issue(SpiffeId.parse("spiffe://b.test/ns/x/sa/y"), Duration.ofHours(1)))))
                .isEqualTo("wrong_trust_domain");
    }

    @Test
    void usesTheInjectedClock() {
        DevCertificateAuthority.Leaf leaf = ca.issue(frontend, Duration.ofHours(1));
        Clock later = Clock.fixed(Instant.now().plus(Duration.ofHours(2)), ZoneOffset.UTC);
        assertThat(reason(tm(later, ca.certificate()), chain(leaf))).isEqualTo("expired");
    }

    @Test
    void countsRefusalsSeenByTheHandshakeCallbacks() {
        SpiffeTrustManager tm = tm(Clock.systemUTC(), ca.certificate());
        DevCertificateAuthority other = DevCertificateAuthority.create("a.test", Duration.ofDays(1));
        X509Certificate[] rogue = chain(other.issue(frontend, Duration.ofHours(1)));
        assertThatThrownBy(() -> tm.checkClientTrusted(rogue, "EC")).isInstanceOf(PeerVerificationException.class);
        assertThatThrownBy(() -> tm.checkServerTrusted(rogue, "EC")).isInstanceOf(PeerVerificationException.class);
        assertThat(refusals.snapshot()).containsEntry("unknown_ca", 1L).containsEntry("upstream_unknown_ca", 1L);
    }

    @Test
    void devCaIssuesOnlyInItsTrustDomainAndLeavesCarryExactlyOneUriSan() throws Exception {
        assertThatThrownBy(() -> ca.issue(SpiffeId.parse("spiffe://b.test/x"), Duration.ofHours(1)))
                .hasMessageContaining("trust domain a.test");
        X509Certificate leaf = ca.issue(frontend, Duration.ofHours(1)).certificate();
        assertThat(Pem.uriSans(leaf)).containsExactly(frontend.toString());
        assertThat(leaf.getBasicConstraints()).isEqualTo(-1);
        assertThat(leaf.getPublicKey().getAlgorithm()).isEqualTo("EC");
        assertThat(leaf.getSubjectAlternativeNames()).hasSize(1);
    }
}
