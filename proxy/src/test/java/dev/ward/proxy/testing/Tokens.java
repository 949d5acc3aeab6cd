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
        SignedJWT t = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(key.getKeyID()).build(),
                new JWTClaimsSet.Builder().issuer(issuer).subject("alice").audience(audience).claim("scope", List.of("read", "write"))
                        .expirationTime(new Date(System.currentTimeMillis() + 300_000)).build());
        t.sign(new RSASSASigner(key));
        return t.serialize();
    }
}
