package dev.ward.authz.engine;

/**
 * What the token verifier concluded about a request's bearer token, computed before the policy
 * decision: no token, a verified one, or a refused one with its reason code.
 */
public sealed interface TokenFacts {

    /** No {@code Authorization} header. */
    record None() implements TokenFacts {}

    /** A token whose signature, issuer, audience and times were verified, with its claims. */
    record Valid(String issuer, String subject, java.util.Map<String, Object> claims) implements TokenFacts {
        public Valid(String issuer, String subject) {
            this(issuer, subject, java.util.Map.of());
        }
    }

    /** A token was presented but refused: {@code token_expired}, {@code token_audience}, ... */
    record Invalid(String reason) implements TokenFacts {}

    TokenFacts NONE = new None();
}
