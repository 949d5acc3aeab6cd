package dev.ward.authz.jwt;

import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.Ed25519Signer;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.OctetKeyPair;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.OctetKeyPairGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.ward.authz.engine.TokenFacts;
import dev.ward.authz.policy.Policy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenVerifierTest {

    static final String ISS = "https://auth.example";
    static RSAKey rsa;
    static ECKey ec;
    static OctetKeyPair ed;

    @TempDir
    Path tmp;

    /** A clock the test moves. */
    static final class MutableClock extends Clock {
        Instant now = Instant.parse("2026-06-01T12:00:00Z");

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    final MutableClock clock = new MutableClock();

    @BeforeAll
    static void keys() throws Exception {
        rsa = new RSAKeyGenerator(2048).keyID("rsa-1").generate();
        ec = new ECKeyGenerator(Curve.P_256).keyID("ec-1").generate();
        ed = new OctetKeyPairGenerator(Curve.Ed25519).keyID("ed-1").generate();
    }

    private Path jwks(JWK... keys) throws Exception {
        Path f = tmp.resolve("jwks.json");
        Files.writeString(f, new JWKSet(List.of(keys)).toPublicJWKSet().toString());
        return f;
    }

    private TokenVerifier verifier(Path jwks, String... algs) {
        Policy.TokenIssuer issuer = new Policy.TokenIssuer(ISS, jwks, null, List.of("orders"),
                algs.length == 0 ? List.of("RS256", "ES256", "EdDSA") : List.of(algs));
        return new TokenVerifier(Map.of(issuer, new JwksSource.FromFile(jwks, clock, Duration.ZERO)), clock);
    }

    private String token(JWK key, JWSAlgorithm alg, UnaryOperator<JWTClaimsSet.Builder> claims) throws Exception {
        JWTClaimsSet.Builder b = new JWTClaimsSet.Builder().issuer(ISS).subject("alice").audience("orders")
                .issueTime(Date.from(clock.now)).expirationTime(Date.from(clock.now.plusSeconds(300)));
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(alg).keyID(key.getKeyID()).type(JOSEObjectType.JWT).build(),
                claims.apply(b).build());
        JWSSigner signer = key instanceof RSAKey r ? new RSASSASigner(r) : key instanceof ECKey e ? new ECDSASigner(e)
                : new Ed25519Signer((OctetKeyPair) key);
        jwt.sign(signer);
        return jwt.serialize();
    }

    private static String reason(TokenFacts f) {
        return f instanceof TokenFacts.Invalid i ? i.reason() : f instanceof TokenFacts.Valid v ? "valid:" + v.subject() : "none";
    }

    @Test
    void acceptsRs256Es256AndEdDsa() throws Exception {
        TokenVerifier v = verifier(jwks(rsa, ec, ed));
        assertThat(reason(v.verify(List.of("Bearer " + token(rsa, JWSAlgorithm.RS256, b -> b))))).isEqualTo("valid:alice");
        assertThat(reason(v.verify(List.of("bearer " + token(ec, JWSAlgorithm.ES256, b -> b))))).isEqualTo("valid:alice");
        assertThat(reason(v.verify(List.of("BEARER " + token(ed, JWSAlgorithm.EdDSA, b -> b))))).isEqualTo("valid:alice");
    }

    @Test
    void refusesEachWayAClaimCanBeWrong() throws Exception {
        TokenVerifier v = verifier(jwks(rsa));
        assertThat(reason(v.verifyToken(token(rsa, JWSAlgorithm.RS256, b -> b.expirationTime(Date.from(clock.now.minusSeconds(61)))))))
                .isEqualTo("token_expired");
        assertThat(reason(v.verifyToken(token(rsa, JWSAlgorithm.RS256, b -> b.expirationTime(Date.from(clock.now.minusSeconds(30)))))))
                .as("within the 60 s skew").isEqualTo("valid:alice");
        assertThat(reason(v.verifyToken(token(rsa, JWSAlgorithm.RS256, b -> b.expirationTime(null))))).isEqualTo("token_expiry_missing");
        assertThat(reason(v.verifyToken(token(rsa, JWSAlgorithm.RS256, b -> b.notBeforeTime(Date.from(clock.now.plusSeconds(120)))))))
                .isEqualTo("token_not_yet_valid");
        assertThat(reason(v.verifyToken(token(rsa, JWSAlgorithm.RS256, b -> b.issueTime(Date.from(clock.now.plusSeconds(120)))))))
                .isEqualTo("token_not_yet_valid");
        assertThat(reason(v.verifyToken(token(rsa, JWSAlgorithm.RS256, b -> b.audience("payments"))))).isEqualTo("token_audience");
        assertThat(reason(v.verifyToken(token(rsa, JWSAlgorithm.RS256, b -> b.audience(List.of("payments", "orders"))))))
                .isEqualTo("valid:alice");
        assertThat(reason(v.verifyToken(token(rsa, JWSAlgorithm.RS256, b -> b.audience((String) null))))).isEqualTo("token_audience");
        assertThat(reason(v.verifyToken(token(rsa, JWSAlgorithm.RS256, b -> b.issuer("https://evil.example"))))).isEqualTo("token_issuer");
        assertThat(reason(v.verifyToken(token(rsa, JWSAlgorithm.RS256, b -> b.issuer("https://auth.example/"))))).isEqualTo("token_issuer");
    }

    @Test
    void refusesSignatureAndAlgorithmAttacks() throws Exception {
        TokenVerifier v = verifier(jwks(rsa), "RS256");
        RSAKey other = new RSAKeyGenerator(2048).keyID("rsa-1").generate();
        assertThat(reason(v.verifyToken(token(other, JWSAlgorithm.RS256, b -> b)))).isEqualTo("token_signature");
        assertThat(reason(v.verifyToken(token(ec, JWSAlgorithm.ES256, b -> b)))).isEqualTo("token_algorithm");
        // HMAC keyed with the RSA public key's bytes: the classic algorithm-confusion attack.
        SignedJWT hs = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.HS256).keyID("rsa-1").build(),
                new JWTClaimsSet.Builder().issuer(ISS).audience("orders").expirationTime(Date.from(clock.now.plusSeconds(60))).build());
        hs.sign(new MACSigner(rsa.toPublicJWK().toRSAPublicKey().getEncoded()));
        assertThat(reason(v.verifyToken(hs.serialize()))).isEqualTo("token_algorithm");
        // alg "none"
        String none = java.util.Base64.getUrlEncoder().withoutPadding().encodeToString("{\"alg\":\"none\"}".getBytes())
                + "." + java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(
                        ("{\"iss\":\"" + ISS + "\",\"aud\":\"orders\",\"exp\":9999999999}").getBytes()) + ".";
        assertThat(reason(v.verifyToken(none))).startsWith("token_");
        assertThat(v.verifyToken(none)).isInstanceOf(TokenFacts.Invalid.class);
        // crit, nested, oversized, garbage
        SignedJWT crit = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID("rsa-1")
                .criticalParams(java.util.Set.of("exp")).build(), new JWTClaimsSet.Builder().issuer(ISS).audience("orders")
                .expirationTime(Date.from(clock.now.plusSeconds(60))).build());
        crit.sign(new RSASSASigner(rsa));
        assertThat(reason(v.verifyToken(crit.serialize()))).isEqualTo("token_critical_header");
        SignedJWT nested = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID("rsa-1").contentType("JWT").build(),
                new JWTClaimsSet.Builder().issuer(ISS).audience("orders").expirationTime(Date.from(clock.now.plusSeconds(60))).build());
        nested.sign(new RSASSASigner(rsa));
        assertThat(reason(v.verifyToken(nested.serialize()))).isEqualTo("token_nested");
        assertThat(reason(v.verifyToken("a".repeat(9000)))).isEqualTo("token_too_large");
        assertThat(reason(v.verifyToken("not.a.jwt"))).isEqualTo("token_malformed");
        assertThat(reason(v.verifyToken("a.b.c.d.e"))).isEqualTo("token_malformed");
    }

    @Test
    void readsOnlyOneBearerAuthorizationHeader() throws Exception {
        TokenVerifier v = verifier(jwks(rsa));
        String t = token(rsa, JWSAlgorithm.RS256, b -> b);
        assertThat(v.verify(List.of())).isEqualTo(TokenFacts.NONE);
        assertThat(v.verify(List.of("Basic YWxpY2U6c2VjcmV0"))).isEqualTo(TokenFacts.NONE);
        assertThat(reason(v.verify(List.of("Bearer " + t, "Bearer " + t)))).isEqualTo("token_ambiguous");
        assertThat(reason(v.verify(List.of("Bearer")))).isEqualTo("token_malformed");
    }

    @Test
    void readsTheTokenWhereItsBytesArriveAndAnswersRepeatsFromTheCache() throws Exception {
        TokenVerifier v = verifier(jwks(rsa));
        String t = token(rsa, JWSAlgorithm.RS256, b -> b);
        // A header value as a decoder leaves it: inside a larger buffer, with whitespace around it.
        byte[] buf = ("xx\tbEaReR   " + t + " \tyy").getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        TokenFacts first = v.verifyAuthorization(buf, 2, buf.length - 4);
        assertThat(reason(first)).isEqualTo("valid:alice");
        assertThat(v.verifyAuthorization(buf, 2, buf.length - 4)).as("the cached verdict itself").isSameAs(first);
        assertThat(v.verify(List.of("Bearer " + t))).isSameAs(first);
        assertThat(v.verifyAuthorization("Bearer " + t)).isSameAs(first);
        // One byte of the signature changed: not the cached token, and its signature fails.
        byte[] forged = buf.clone();
        forged[buf.length - 6] = (byte) (forged[buf.length - 6] == 'A' ? 'B' : 'A');
        assertThat(reason(v.verifyAuthorization(forged, 2, buf.length - 4))).isEqualTo("token_signature");
        // A character outside Latin-1, anywhere in the cached token or after it: refused, never the cached verdict.
        assertThat(reason(v.verifyAuthorization("Bearer " + t.substring(0, 10) + "\u65e5" + t.substring(11)))).isEqualTo("token_malformed");
        assertThat(reason(v.verifyAuthorization("Bearer " + t + "\u65e5"))).isEqualTo("token_malformed");
        // Schemes and shapes read from bytes as from strings.
        byte[] basic = "Basic YWxpY2U6c2VjcmV0".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        assertThat(v.verifyAuthorization(basic, 0, basic.length)).isEqualTo(TokenFacts.NONE);
        byte[] bearers = "Bearers x".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        assertThat(v.verifyAuthorization(bearers, 0, bearers.length)).isEqualTo(TokenFacts.NONE);
        assertThat(reason(v.verifyAuthorization(" Bearer   "))).isEqualTo("token_malformed");
        assertThat(reason(v.verifyAuthorization("Bearer " + "a".repeat(JwsVerifier.MAX_TOKEN_BYTES + 1)))).isEqualTo("token_too_large");
        // Without a cache every call verifies afresh: equal verdicts, never the same object.
        TokenVerifier uncached = new TokenVerifier(Map.of(new Policy.TokenIssuer(ISS, jwks(rsa), null, List.of("orders"),
                List.of("RS256")), new JwksSource.FromFile(jwks(rsa), clock, Duration.ZERO)), clock, 0);
        TokenFacts once = uncached.verifyToken(t);
        assertThat(once).isEqualTo(first).isNotSameAs(uncached.verifyToken(t));
    }

    @Test
    void aJwksFileIsLookedAtAgainOnlyOnceItsIntervalHasPassed() throws Exception {
        Path file = jwks(rsa);
        JwksSource.FromFile source = new JwksSource.FromFile(file, clock, Duration.ofSeconds(10));
        assertThat(source.current().getKeyByKeyId("rsa-1")).isNotNull();
        Files.writeString(file, new JWKSet(List.of(ec)).toPublicJWKSet().toString());
        Files.setLastModifiedTime(file, java.nio.file.attribute.FileTime.from(clock.now.plusSeconds(1)));
        clock.now = clock.now.plusSeconds(5);
        assertThat(source.current().getKeyByKeyId("rsa-1")).as("within the interval: the keys read before").isNotNull();
        clock.now = clock.now.plusSeconds(6);
        assertThat(source.current().getKeyByKeyId("ec-1")).as("past it: the file's new keys").isNotNull();
        assertThat(source.current().getKeyByKeyId("rsa-1")).isNull();
    }

    @Test
    void cachedTokensStillExpireAndDieWithTheirKey() throws Exception {
        Path file = jwks(rsa, ec);
        TokenVerifier v = verifier(file);
        String t = token(rsa, JWSAlgorithm.RS256, b -> b);
        assertThat(reason(v.verifyToken(t))).isEqualTo("valid:alice");
        assertThat(reason(v.verifyToken(t))).as("from the cache").isEqualTo("valid:alice");
        // The issuer rotates the RSA key out: the cached verdict must not outlive it.
        Files.writeString(file, new JWKSet(List.of(ec)).toPublicJWKSet().toString());
        Files.setLastModifiedTime(file, java.nio.file.attribute.FileTime.from(clock.now.plusSeconds(1)));
        assertThat(reason(v.verifyToken(t))).isEqualTo("token_signature");
        // A newly published key is accepted.
        RSAKey next = new RSAKeyGenerator(2048).keyID("rsa-2").generate();
        Files.writeString(file, new JWKSet(List.of(ec, next)).toPublicJWKSet().toString());
        Files.setLastModifiedTime(file, java.nio.file.attribute.FileTime.from(clock.now.plusSeconds(2)));
        assertThat(reason(v.verifyToken(token(next, JWSAlgorithm.RS256, b -> b)))).isEqualTo("valid:alice");
        // And time moves on: the cached verdict expires with the token.
        String shortLived = token(next, JWSAlgorithm.RS256, b -> b.expirationTime(Date.from(clock.now.plusSeconds(10))));
        assertThat(reason(v.verifyToken(shortLived))).isEqualTo("valid:alice");
        clock.now = clock.now.plusSeconds(120);
        assertThat(reason(v.verifyToken(shortLived))).isEqualTo("token_expired");
    }

    @Test
    void aBrokenJwksFileKeepsTheLastGoodKeys() throws Exception {
        Path file = jwks(rsa);
        TokenVerifier v = verifier(file);
        Files.writeString(file, "{ not json");
        Files.setLastModifiedTime(file, java.nio.file.attribute.FileTime.from(clock.now.plusSeconds(5)));
        assertThat(reason(v.verifyToken(token(rsa, JWSAlgorithm.RS256, b -> b)))).isEqualTo("valid:alice");
        JwksSource.Health h = v.health().get(ISS);
        assertThat(h.keyIds()).containsExactly("rsa-1");
        assertThat(h.lastError()).contains("jwks.json");
    }
}
