package dev.ward.perf;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.Ed25519Signer;
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
import dev.ward.authz.jwt.JwksSource;
import dev.ward.authz.jwt.TokenVerifier;
import dev.ward.authz.policy.Policy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Bearer-token verification of the same token, by a verifier without a cache (parse, signature
 * and claims every time) and by one with the cache: {@code cachedHeader} reads the token from the
 * bytes of an {@code Authorization} value where a decoder left them (inside a larger buffer), as
 * the sidecar does; {@code cached} is given it as a {@code String}, which costs a copy to bytes.
 * Target: cached under 1 µs.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class TokenVerificationBenchmark {

    @Param({"RS256", "ES256", "EdDSA"})
    public String alg;

    TokenVerifier verifier;
    TokenVerifier noCache;
    String token;
    /** {@code Authorization: Bearer <token>} as an HTTP/2 or HTTP/1.1 decoder leaves it: the value's bytes inside a larger array. */
    byte[] header;
    int headerLength;

    @Setup
    public void setUp() throws Exception {
        JWK key = switch (alg) {
            case "RS256" -> new RSAKeyGenerator(2048).keyID("k").generate();
            case "ES256" -> new ECKeyGenerator(Curve.P_256).keyID("k").generate();
            default -> new OctetKeyPairGenerator(Curve.Ed25519).keyID("k").generate();
        };
        Path jwks = Files.createTempFile("ward-bench-jwks", ".json");
        Files.writeString(jwks, new JWKSet(key).toPublicJWKSet().toString());
        jwks.toFile().deleteOnExit();
        Policy.TokenIssuer issuer = new Policy.TokenIssuer("https://auth.example", jwks, null, List.of("orders"), List.of(alg));
        JwksSource keys = new JwksSource.FromFile(jwks, Clock.systemUTC(), Duration.ofSeconds(1));
        verifier = new TokenVerifier(Map.of(issuer, keys), Clock.systemUTC());
        noCache = new TokenVerifier(Map.of(issuer, keys), Clock.systemUTC(), 0);
        token = sign(key, 0);
        header = ("authorization: Bearer " + token + "\r\n").getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        headerLength = header.length - 17;
        if (!(verifier.verifyToken(token) instanceof TokenFacts.Valid) || !(noCache.verifyToken(token) instanceof TokenFacts.Valid)
                || cachedHeader() != verifier.verifyToken(token)) {
            throw new IllegalStateException("benchmark token does not verify");
        }
    }

    private String sign(JWK key, int jti) throws Exception {
        SignedJWT t = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.parse(alg)).keyID("k").build(),
                new JWTClaimsSet.Builder().issuer("https://auth.example").subject("alice").audience("orders").jwtID("j" + jti)
                        .expirationTime(new Date(System.currentTimeMillis() + 3_600_000)).build());
        JWSSigner s = key instanceof RSAKey r ? new RSASSASigner(r) : key instanceof ECKey e ? new ECDSASigner(e)
                : new Ed25519Signer((OctetKeyPair) key);
        t.sign(s);
        return t.serialize();
    }

    @Benchmark
    public TokenFacts cached() {
        return verifier.verifyToken(token);
    }

    @Benchmark
    public TokenFacts cachedHeader() {
        return verifier.verifyAuthorization(header, 15, headerLength);
    }

    @Benchmark
    public TokenFacts uncached() {
        return noCache.verifyToken(token);
    }
}
