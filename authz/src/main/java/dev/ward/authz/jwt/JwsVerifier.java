package dev.ward.authz.jwt;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSObject;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.Ed25519Verifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyOperation;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.OctetKeyPair;
import com.nimbusds.jose.jwk.RSAKey;
import java.text.ParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Verifies the signature layer of a compact JWS against a key set, refusing everything that is
 * not plainly a signed token this issuer may send. Fails closed, with a reason:
 * {@code token_too_large} (over 8 KiB, before any parsing), {@code token_malformed} (not three
 * base64url parts: JSON serialization, JWE and garbage all land here), {@code token_algorithm}
 * ({@code none}, HMAC, or an algorithm not allowed for the issuer), {@code token_critical_header}
 * (any {@code crit}: Ward understands none), {@code token_nested} (a JWT inside), and
 * {@code token_signature} (no usable key, or the signature does not verify).
 *
 * <p>A key is usable only if its type fits the algorithm, its own {@code alg} (if any) equals
 * the header's, its {@code use} (if any) is {@code sig}, its {@code key_ops} (if any) include
 * {@code verify}, and its {@code kid} equals the header's when the header names one.
 */
public final class JwsVerifier {

    /** Tokens larger than this are refused before parsing. */
    public static final int MAX_TOKEN_BYTES = 8 * 1024;

    /** The outcome: the verified object, or a reason code. */
    public sealed interface Result {
        record Verified(JWSObject jws, JWK key) implements Result {}

        record Refused(String reason, String detail) implements Result {}
    }

    private JwsVerifier() {}

    public static Result verify(String compact, JWKSet keys, Set<JWSAlgorithm> allowed) {
        if (compact == null || compact.isEmpty()) {
            return new Result.Refused("token_malformed", "empty token");
        }
        if (compact.length() > MAX_TOKEN_BYTES) {
            return new Result.Refused("token_too_large", "token over " + MAX_TOKEN_BYTES + " bytes");
        }
        int dots = 0;
        for (int i = 0; i < compact.length(); i++) {
            char c = compact.charAt(i);
            if (c == '.') {
                dots++;
            } else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
                return new Result.Refused("token_malformed", "not a compact JWS (base64url parts only)");
            }
        }
        if (dots != 2) {
            return new Result.Refused("token_malformed", dots == 4 ? "an encrypted token (JWE) is not accepted" : "not a compact JWS");
        }
        JWSObject jws;
        try {
            jws = JWSObject.parse(compact);
        } catch (ParseException e) {
            return new Result.Refused("token_malformed", "unparsable header or parts");
        }
        JWSAlgorithm alg = jws.getHeader().getAlgorithm();
        if (alg == null || JWSAlgorithm.Family.HMAC_SHA.contains(alg) || !allowed.contains(alg)) {
            return new Result.Refused("token_algorithm", "algorithm " + alg + " is not accepted (allowed: " + allowed + ")");
        }
        if (jws.getHeader().getCriticalParams() != null && !jws.getHeader().getCriticalParams().isEmpty()) {
            return new Result.Refused("token_critical_header", "critical header parameters " + jws.getHeader().getCriticalParams()
                    + " are not understood");
        }
        String cty = jws.getHeader().getContentType();
        if (cty != null && cty.equalsIgnoreCase("JWT")) {
            return new Result.Refused("token_nested", "nested tokens are not accepted");
        }
        String kid = jws.getHeader().getKeyID();
        for (JWK k : candidates(keys, alg, kid)) {
            try {
                JWSVerifier v = verifierFor(k);
                if (v != null && jws.verify(v)) {
                    return new Result.Verified(jws, k);
                }
            } catch (JOSEException | IllegalStateException e) {
                // a key that cannot verify this token; try the next
            }
        }
        return new Result.Refused("token_signature", kid == null ? "no key verifies the signature" : "no key '" + kid + "' verifies the signature");
    }

    private static List<JWK> candidates(JWKSet keys, JWSAlgorithm alg, String kid) {
        List<JWK> out = new ArrayList<>();
        for (JWK k : keys.getKeys()) {
            if (kid != null && !kid.equals(k.getKeyID())) {
                continue;
            }
            if (k.getAlgorithm() != null && !k.getAlgorithm().getName().equals(alg.getName())) {
                continue;
            }
            if (k.getKeyUse() != null && !KeyUse.SIGNATURE.equals(k.getKeyUse())) {
                continue;
            }
            if (k.getKeyOperations() != null && !k.getKeyOperations().contains(KeyOperation.VERIFY)) {
                continue;
            }
            if (!fits(k, alg)) {
                continue;
            }
            out.add(k.toPublicJWK());
        }
        return out;
    }

    private static boolean fits(JWK k, JWSAlgorithm alg) {
        if (k instanceof RSAKey) {
            return JWSAlgorithm.Family.RSA.contains(alg);
        }
        if (k instanceof ECKey ec) {
            Curve c = ec.getCurve();
            return (alg.equals(JWSAlgorithm.ES256) && Curve.P_256.equals(c))
                    || (alg.equals(JWSAlgorithm.ES384) && Curve.P_384.equals(c))
                    || (alg.equals(JWSAlgorithm.ES512) && Curve.P_521.equals(c));
        }
        if (k instanceof OctetKeyPair okp) {
            return (alg.equals(JWSAlgorithm.EdDSA) || alg.equals(JWSAlgorithm.Ed25519)) && Curve.Ed25519.equals(okp.getCurve());
        }
        return false; // symmetric ("oct") keys are never used: a public key set must not hold shared secrets
    }

    private static JWSVerifier verifierFor(JWK k) throws JOSEException {
        if (k instanceof RSAKey rsa) {
            return new RSASSAVerifier(rsa);
        }
        if (k instanceof ECKey ec) {
            return new ECDSAVerifier(ec);
        }
        if (k instanceof OctetKeyPair okp) {
            return new Ed25519Verifier(okp);
        }
        return null;
    }
}
