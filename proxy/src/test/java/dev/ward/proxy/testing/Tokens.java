package dev.ward.proxy.testing;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.util.Date;
import java.util.List;

/** Bearer tokens signed in the test: issuer, subject "alice", a scope list claim, five minutes to live. */
public final class Tokens {

    private Tokens() {}

    public static String jwt(RSAKey key, String audience) throws Exception {
        return jwt(key, audience, "https://auth.example");
    }

    public static String jwt(RSAKey key, String audience, String issuer) throws Exception {
        return jwt(key, audience, issuer, "alice", List.of("read", "write"));
    }

    /** A token for {@code subject} with {@code scope} as its scope claim (a string or a list). */
    public static String jwt(RSAKey key, String audience, String issuer, String subject, Object scope) throws Exception {
        SignedJWT t = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(key.getKeyID()).build(),
                new JWTClaimsSet.Builder().issuer(issuer).subject(subject).audience(audience).claim("scope", scope)
                        .expirationTime(new Date(System.currentTimeMillis() + 300_000)).build());
        t.sign(new RSASSASigner(key));
        return t.serialize();
    }
}
