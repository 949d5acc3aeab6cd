package dev.ward.authz.policy;

import dev.ward.authz.identity.IdentityPattern;
import dev.ward.authz.path.PathNormalizer;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One service's authorization policy, validated and immutable. Parsed from YAML or JSON by
 * {@link PolicyParser}; the same document whether it comes from a file or the control API.
 *
 * @param version    free text shown in logs and {@code /policy}; absent: none
 * @param mode       {@code enforce} (default) or {@code audit}: decide, log what would be denied, allow
 * @param defaultAllow the action when no rule matches; {@code false} (deny) unless the document says
 *                   {@code default: allow}
 * @param encodedSlashes what the path normalizer does with {@code %2F} and {@code \}; default reject
 * @param claimHeaders claim name to the request header that carries it to the app (string,
 *                   number and list claims); absent: {@link #DEFAULT_CLAIM_HEADERS}; empty: none
 */
public record Policy(String service, String version, Mode mode, boolean defaultAllow,
                     PathNormalizer.SlashAction encodedSlashes, List<TokenIssuer> tokens, List<Rule> rules,
                     Map<String, String> claimHeaders) {

    /** Absent {@code claimHeaders}: the verified token's {@code sub} and {@code iss}. */
    public static final Map<String, String> DEFAULT_CLAIM_HEADERS = Map.of("sub", "x-ward-jwt-sub", "iss", "x-ward-jwt-iss");

    public enum Mode { ENFORCE, AUDIT }

    public enum TokenRequirement {
        /** A valid token must be presented. */
        REQUIRED,
        /** No token, or a valid one; an invalid token is still refused (fails closed). */
        OPTIONAL,
        /** No Authorization header at all. */
        FORBIDDEN
    }

    /**
     * An allow rule: it allows a request when every condition holds. {@code from}, {@code methods}
     * and {@code paths} must be stated (absent or empty is an error, so nothing is allowed by
     * accident); {@code methods} {@code ["*"]} means any method. {@code headers} absent: no
     * header condition; names are lower-case, values matched exactly.
     */
    public record Rule(String name, List<IdentityPattern> from, Set<String> methods, List<PathPattern> paths,
                       Map<String, String> headers, TokenRequirement token) {

        public boolean anyMethod() {
            return methods.contains("*");
        }
    }

    /**
     * A token issuer: {@code iss} must equal {@code issuer} exactly; {@code aud} must contain one of
     * {@code audiences}; keys from {@code jwksFile} or {@code jwksUrl} (exactly one; for a URL,
     * {@code jwksCa} optionally names the PEM CA file that signs the key server's certificate, absent:
     * the JDK's trust store); signed with one of {@code algorithms} (absent: RS256, ES256, EdDSA).
     */
    public record TokenIssuer(String issuer, Path jwksFile, URI jwksUrl, Path jwksCa, List<String> audiences,
                              List<String> algorithms) {
        /** Without a CA file for {@code jwksUrl} (the JDK's trust store is used). */
        public TokenIssuer(String issuer, Path jwksFile, URI jwksUrl, List<String> audiences, List<String> algorithms) {
            this(issuer, jwksFile, jwksUrl, null, audiences, algorithms);
        }
    }
}
