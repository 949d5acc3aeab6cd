package dev.ward.authz.jwt;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSObject;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jwt.JWTClaimsSet;
import dev.ward.authz.engine.TokenFacts;
import dev.ward.authz.policy.Policy;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns a request's {@code Authorization} headers into {@link TokenFacts}. Only
 * {@code Authorization: Bearer <jwt>} is read (scheme case-insensitive; other schemes are the
 * app's business and count as no token); two or more Authorization headers are refused. The
 * issuer is chosen by {@code iss}, which must equal a configured issuer exactly; the signature is
 * checked by {@link JwsVerifier} with that issuer's keys and algorithms; then {@code exp} is
 * required, {@code nbf} and {@code iat} are honoured, each with {@link #SKEW}, and {@code aud}
 * must contain one of the issuer's audiences. Fails closed: every doubt is a {@code token_*}
 * reason. Verified tokens are cached ({@link TokenCache}) until they expire; an issuer's cached
 * tokens are dropped when its key set changes, so a removed key stops working at once.
 */
public final class TokenVerifier {

    public static final Duration SKEW = Duration.ofSeconds(60);
    /** Default bound on cached verified tokens. */
    public static final int DEFAULT_CACHE_ENTRIES = 10_000;

    private record Issuer(Policy.TokenIssuer config, JwksSource keys, Set<JWSAlgorithm> algorithms) {}

    /** A verified token's facts, until {@code exp} plus {@link #SKEW} (epoch ms), while its issuer's keys are {@code keys}. */
    private record Cached(TokenFacts.Valid facts, long expiresWithSkew, JWKSet keys, Issuer issuer) {}

    /** Two or more Authorization headers. */
    public static final TokenFacts.Invalid AMBIGUOUS = new TokenFacts.Invalid("token_ambiguous");
    private static final byte[] BEARER = "bearer".getBytes(StandardCharsets.US_ASCII);

    private final Map<String, Issuer> issuers = new HashMap<>();
    /** Null when {@code cacheEntries} is 0. */
    private final TokenCache<Cached> cache;
    private final Clock clock;

    public TokenVerifier(Map<Policy.TokenIssuer, JwksSource> issuers, Clock clock) {
        this(issuers, clock, DEFAULT_CACHE_ENTRIES);
    }

    /** {@code cacheEntries} 0: verify every token every time. */
    public TokenVerifier(Map<Policy.TokenIssuer, JwksSource> issuers, Clock clock, int cacheEntries) {
        this.clock = clock;
        this.cache = cacheEntries > 0 ? new TokenCache<>(cacheEntries) : null;
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
            return AMBIGUOUS;
        }
        return verifyAuthorization(authorization.get(0));
    }

    /**
     * Verifies a request's only Authorization value. A character outside Latin-1 (which a header's
     * bytes cannot hold) becomes {@code ?}, which no compact JWS contains: such a token is refused
     * as malformed, and never matches a cached one.
     */
    public TokenFacts verifyAuthorization(CharSequence value) {
        byte[] b = value.toString().getBytes(StandardCharsets.ISO_8859_1);
        return verifyAuthorization(b, 0, b.length);
    }

    /**
     * Verifies a request's only Authorization value, given as the bytes it arrived in
     * ({@code b[off, off + len)}, ISO-8859-1) and read where they are: a cached token is found
     * without copying it. The scheme is everything before the first space (surrounding
     * whitespace ignored); only {@code Bearer}, in any case, is Ward's.
     */
    public TokenFacts verifyAuthorization(byte[] b, int off, int len) {
        int start = off;
        int end = off + len;
        while (start < end && (b[start] & 0xFF) <= ' ') {
            start++;
        }
        while (end > start && (b[end - 1] & 0xFF) <= ' ') {
            end--;
        }
        int sp = start;
        while (sp < end && b[sp] != ' ') {
            sp++;
        }
        if (!isBearer(b, start, sp)) {
            return TokenFacts.NONE; // Basic and friends belong to the app
        }
        int token = sp;
        while (token < end && (b[token] & 0xFF) <= ' ') {
            token++;
        }
        return verifyToken(b, token, end - token);
    }

    private static boolean isBearer(byte[] b, int from, int to) {
        if (to - from != BEARER.length) {
            return false;
        }
        for (int i = 0; i < BEARER.length; i++) {
            if ((b[from + i] | 0x20) != BEARER[i]) { // the scheme's letters in either case (RFC 9110 11.1)
                return false;
            }
        }
        return true;
    }

    /** Verifies one compact JWT. */
    public TokenFacts verifyToken(String token) {
        byte[] b = token.getBytes(StandardCharsets.ISO_8859_1);
        return verifyToken(b, 0, b.length);
    }

    private TokenFacts verifyToken(byte[] b, int off, int len) {
        if (len == 0) {
            return new TokenFacts.Invalid("token_malformed");
        }
        if (len > JwsVerifier.MAX_TOKEN_BYTES) {
            return new TokenFacts.Invalid("token_too_large");
        }
        if (cache != null) {
            TokenCache.Entry<Cached> e = cache.get(b, off, len);
            if (e != null) {
                Cached c = e.value();
                long now = clock.millis();
                if (now < c.expiresWithSkew() && c.issuer().keys().current(now) == c.keys()) {
                    return c.facts();
                }
                cache.remove(e); // expired, or its issuer's keys changed: verified again below
            }
        }
        String token = new String(b, off, len, StandardCharsets.ISO_8859_1);
        Instant now = clock.instant();
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
        if (cache != null) {
            cache.put(b, off, len, new Cached(valid, exp.getTime() + SKEW.toMillis(), keys, issuer));
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
}
