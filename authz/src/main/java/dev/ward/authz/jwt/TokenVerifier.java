package dev.ward.authz.jwt;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSObject;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jwt.JWTClaimsSet;
import dev.ward.authz.engine.TokenFacts;
import dev.ward.authz.policy.Policy;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Turns a request's {@code Authorization} headers into {@link TokenFacts}. Only
 * {@code Authorization: Bearer <jwt>} is read (scheme case-insensitive; other schemes are the
 * app's business and count as no token); two or more Authorization headers are refused. The
 * issuer is chosen by {@code iss}, which must equal a configured issuer exactly; the signature is
 * checked by {@link JwsVerifier} with that issuer's keys and algorithms; then {@code exp} is
 * required, {@code nbf} and {@code iat} are honoured, each with {@link #SKEW}, and {@code aud}
 * must contain one of the issuer's audiences. Fails closed: every doubt is a {@code token_*}
 * reason. Verified tokens are cached by their SHA-256 until they expire, and the cache of an
 * issuer is dropped when its key set changes, so a removed key stops working at once.
 */
public final class TokenVerifier {

    public static final Duration SKEW = Duration.ofSeconds(60);
    /** Default bound on cached verified tokens. */
    public static final int DEFAULT_CACHE_ENTRIES = 10_000;

    private record Issuer(Policy.TokenIssuer config, JwksSource keys, Set<JWSAlgorithm> algorithms) {}

    private record Cached(TokenFacts.Valid facts, Instant expires, JWKSet keys) {}

    private final Map<String, Issuer> issuers = new HashMap<>();
    private final Map<String, Cached> cache = new ConcurrentHashMap<>();
    private final Clock clock;
    private final int cacheEntries;

    public TokenVerifier(Map<Policy.TokenIssuer, JwksSource> issuers, Clock clock) {
        this(issuers, clock, DEFAULT_CACHE_ENTRIES);
    }

    /** {@code cacheEntries} 0: verify every token every time. */
    public TokenVerifier(Map<Policy.TokenIssuer, JwksSource> issuers, Clock clock, int cacheEntries) {
        this.clock = clock;
        this.cacheEntries = cacheEntries;
        issuers.forEach((cfg, src) -> {
            Set<JWSAlgorithm> algs = new LinkedHashSet<>();
            cfg.algorithms().forEach(a -> algs.add(JWSAlgorithm.parse(a)));
            this.issuers.put(cfg.issuer(), new Issuer(cfg, src, Set.copyOf(algs)));
        });
    }

    /** A verifier for a policy without token issuers: every Bearer token is refused. */
    public static TokenVerifier none() {
        return new TokenVerifier(Map.of(), Clock.systemUTC());
    }

    public boolean hasIssuers() {
        return !issuers.isEmpty();
    }

    public Map<String, JwksSource.Health> health() {
        Map<String, JwksSource.Health> h = new java.util.TreeMap<>();
        issuers.forEach((name, i) -> h.put(name, i.keys().health()));
        return h;
    }

    /** Verifies the request's Authorization header values (in order; may be empty). */
    public TokenFacts verify(List<String> authorization) {
        if (authorization.isEmpty()) {
            return TokenFacts.NONE;
        }
        if (authorization.size() > 1) {
            return new TokenFacts.Invalid("token_ambiguous");
        }
        String h = authorization.get(0).trim();
        int sp = h.indexOf(' ');
        String scheme = sp < 0 ? h : h.substring(0, sp);
        if (!scheme.equalsIgnoreCase("Bearer")) {
            return TokenFacts.NONE; // Basic and friends belong to the app
        }
        String token = sp < 0 ? "" : h.substring(sp + 1).trim();
        return verifyToken(token);
    }

    /** Verifies one compact JWT. */
    public TokenFacts verifyToken(String token) {
        if (token.isEmpty()) {
            return new TokenFacts.Invalid("token_malformed");
        }
        if (token.length() > JwsVerifier.MAX_TOKEN_BYTES) {
            return new TokenFacts.Invalid("token_too_large");
        }
        Instant now = clock.instant();
        String key = sha256(token);
        Cached c = cache.get(key);
        if (c != null) {
            Issuer i = issuers.get(c.facts().issuer());
            if (i != null && now.isBefore(c.expires().plus(SKEW)) && i.keys().current() == c.keys()) {
                return c.facts();
            }
            cache.remove(key);
        }
        String iss;
        try {
            iss = JWTClaimsSet.parse(JWSObject.parse(token).getPayload().toJSONObject()).getIssuer();
        } catch (ParseException | RuntimeException e) {
            return new TokenFacts.Invalid("token_malformed");
        }
        Issuer issuer = iss == null ? null : issuers.get(iss);
        if (issuer == null) {
            return new TokenFacts.Invalid("token_issuer");
        }
        JWKSet keys = issuer.keys().current();
        JwsVerifier.Result r = JwsVerifier.verify(token, keys, issuer.algorithms());
        if (r instanceof JwsVerifier.Result.Refused refused) {
            if ("token_signature".equals(refused.reason())) {
                String kid = headerKid(token);
                if (kid != null && keys.getKeyByKeyId(kid) == null) {
                    issuer.keys().unknownKey(kid); // the issuer may have rotated: refresh in the background
                }
            }
            return new TokenFacts.Invalid(refused.reason());
        }
        JWTClaimsSet claims;
        try {
            claims = JWTClaimsSet.parse(((JwsVerifier.Result.Verified) r).jws().getPayload().toJSONObject());
        } catch (ParseException e) {
            return new TokenFacts.Invalid("token_malformed");
        }
        Date exp = claims.getExpirationTime();
        if (exp == null) {
            return new TokenFacts.Invalid("token_expiry_missing");
        }
        if (now.isAfter(exp.toInstant().plus(SKEW))) {
            return new TokenFacts.Invalid("token_expired");
        }
        Date nbf = claims.getNotBeforeTime();
        Date iat = claims.getIssueTime();
        if ((nbf != null && now.plus(SKEW).isBefore(nbf.toInstant())) || (iat != null && now.plus(SKEW).isBefore(iat.toInstant()))) {
            return new TokenFacts.Invalid("token_not_yet_valid");
        }
        List<String> aud = claims.getAudience();
        if (aud == null || aud.stream().noneMatch(issuer.config().audiences()::contains)) {
            return new TokenFacts.Invalid("token_audience");
        }
        TokenFacts.Valid valid = new TokenFacts.Valid(iss, claims.getSubject(), java.util.Collections.unmodifiableMap(claims.getClaims()));
        if (cacheEntries > 0) {
            if (cache.size() >= cacheEntries) {
                cache.clear(); // crude but bounded; a miss only costs a signature check
            }
            cache.put(key, new Cached(valid, exp.toInstant(), keys));
        }
        return valid;
    }

    private static String headerKid(String token) {
        try {
            return JWSObject.parse(token).getHeader().getKeyID();
        } catch (ParseException e) {
            return null;
        }
    }

    /** Waits up to {@code max} until every issuer's keys were loaded once (for tools; never on a request path). */
    public void awaitKeys(Duration max) {
        long deadline = System.nanoTime() + max.toNanos();
        while (System.nanoTime() < deadline && issuers.values().stream().anyMatch(i -> !i.keys().health().everLoaded())) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Stops the key sources' background work. */
    public void close() {
        issuers.values().forEach(i -> i.keys().close());
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.US_ASCII)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

}
