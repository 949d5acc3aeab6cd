package dev.ward.authz.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class SpiffeIdTest {

    @Test
    void parsesTrustDomainAndPath() {
        SpiffeId id = SpiffeId.parse("spiffe://prod.example/ns/shop/sa/orders");
        assertThat(id.trustDomain()).isEqualTo("prod.example");
        assertThat(id.path()).isEqualTo("/ns/shop/sa/orders");
        assertThat(id).hasToString("spiffe://prod.example/ns/shop/sa/orders");
    }

    @Test
    void namespaceIsTheIdUpToTheNamespaceSegment() {
        assertThat(SpiffeId.parse("spiffe://prod.example/ns/shop/sa/orders").namespace()).isEqualTo("spiffe://prod.example/ns/shop");
        assertThat(SpiffeId.parse("spiffe://prod.example/ns/shop").namespace()).isEqualTo("spiffe://prod.example/ns/shop");
        assertThat(SpiffeId.parse("spiffe://prod.example/workload/x").namespace()).isNull();
        assertThat(SpiffeId.parse("spiffe://prod.example").namespace()).isNull();
    }

    @Test
    void equalIdsAreEqualWhereverTheyCameFrom() {
        SpiffeId a = SpiffeId.parse("spiffe://prod.example/ns/shop/sa/orders");
        SpiffeId b = new SpiffeId("prod.example", "/ns/shop/sa/orders");
        assertThat(a).isEqualTo(b).hasSameHashCodeAs(b);
        assertThat(a).isNotEqualTo(SpiffeId.parse("spiffe://prod.example/ns/shop/sa/order"))
                .isNotEqualTo(new SpiffeId("prod.example.ns", "/shop/sa/orders"))
                .isNotEqualTo("spiffe://prod.example/ns/shop/sa/orders");
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "http://prod.example/ns/a", "SPIFFE://prod.example/a", "spiffe://", "spiffe:///ns/a",
        "spiffe://Prod.example/a", "spiffe://prod.example:8443/a", "spiffe://user@prod.example/a",
        "spiffe://prod.example/a//b", "spiffe://prod.example/a/", "spiffe://prod.example/a/../b",
        "spiffe://prod.example/./a", "spiffe://prod.example/a?x=1", "spiffe://prod.example/a#f",
        "spiffe://prod.example/a%2fb", "spiffe://prod.example/a b"})
    void rejectsMalformedIds(String bad) {
        assertThatThrownBy(() -> SpiffeId.parse(bad))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("spiffe id: ");
    }

    @ParameterizedTest
    @CsvSource({
        "*,                               spiffe://a.example/ns/x/sa/y, true",
        "spiffe://a.example/*,            spiffe://a.example/ns/x/sa/y, true",
        "spiffe://a.example/*,            spiffe://b.example/ns/x/sa/y, false",
        "spiffe://a.example/ns/x/*,       spiffe://a.example/ns/x/sa/y, true",
        "spiffe://a.example/ns/x/*,       spiffe://a.example/ns/xy/sa/y, false",
        "spiffe://a.example/ns/x/sa/y,    spiffe://a.example/ns/x/sa/y, true",
        "spiffe://a.example/ns/x/sa/y,    spiffe://a.example/ns/x/sa/yy, false",
    })
    void patternsMatchWholeSegments(String pattern, String peer, boolean expected) {
        assertThat(IdentityPattern.parse(pattern).matches(SpiffeId.parse(peer))).isEqualTo(expected);
        assertThat(AllowList.of(List.of(pattern)).allows(SpiffeId.parse(peer))).isEqualTo(expected);
    }

    @ParameterizedTest
    @ValueSource(strings = {"spiffe://a.example/ns/*/sa/x", "spiffe://a.example/ns/x/sa/*", "spiffe://*", "**", "spiffe://a.example/x*"})
    void rejectsWildcardsElsewhere(String bad) {
        assertThatThrownBy(() -> IdentityPattern.parse(bad)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void emptyAllowListDeniesEveryone() {
        assertThat(AllowList.denyAll().allows(SpiffeId.parse("spiffe://a.example/ns/x/sa/y"))).isFalse();
        assertThat(AllowList.of(List.of()).allows(SpiffeId.parse("spiffe://a.example/ns/x/sa/y"))).isFalse();
        assertThat(AllowList.of(List.of("*")).allows(null)).isFalse();
    }

    @Test
    void namesTheBadEntry() {
        assertThatThrownBy(() -> AllowList.of(List.of("*", "dns:foo")))
                .hasMessageStartingWith("allow[1]: spiffe id: dns:foo");
    }
}
