package dev.ward.authz.jwt;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import dev.ward.authz.policy.PolicyParser;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The public Wycheproof JWS vectors (../shared/vectors/wycheproof). Every {@code invalid} case
 * must be refused. Every {@code valid} case must be verified when the issuer allows the
 * algorithm, except, by design: (a) HMAC keys, which Ward never uses (a public key set must not
 * hold shared secrets), and (b) a key whose own {@code alg} names another algorithm than the
 * token's (RFC 7517 4.4: the key is intended for that algorithm only). Four RFC 7520 vectors
 * fall under (b); {@link #byDesignRefusalsAreFewAndKnown} pins that number.
 */
class WycheproofJwsTest {

    /** A verbatim copy under src/test/resources/wycheproof (see its README and LICENSE). */
    static final String VECTORS = "/wycheproof/json_web_signature_test.json";

    static Stream<Arguments> cases() throws Exception {
        JsonNode root;
        try (var in = WycheproofJwsTest.class.getResourceAsStream(VECTORS)) {
            root = new ObjectMapper().readTree(in);
        }
        List<Arguments> out = new ArrayList<>();
        for (JsonNode g : root.get("testGroups")) {
            JsonNode keyNode = g.has("public") ? g.get("public") : g.get("private");
            for (JsonNode t : g.get("tests")) {
                String name = g.path("comment").asText() + " #" + t.get("tcId").asInt() + " " + t.path("comment").asText()
                        + " (" + t.get("result").asText() + ")";
                out.add(Arguments.of(Named.of(name, t.get("jws").asText()), keyNode.toString(), t.get("result").asText()));
            }
        }
        return out.stream();
    }

    @Test
    void allVectorsAreThere() throws Exception {
        assertThat(cases().count()).isEqualTo(401);
    }

    @ParameterizedTest
    @MethodSource("cases")
    void refusesInvalidAndAcceptsValidWhenAllowed(String jws, String keyJson, String result) throws Exception {
        JWK key = JWK.parse(keyJson);
        JwsVerifier.Result r = JwsVerifier.verify(jws, new JWKSet(key), ALL_ALLOWED);
        if (result.equals("valid") && !refusedByDesign(jws, key)) {
            assertThat(r).isInstanceOf(JwsVerifier.Result.Verified.class);
        } else {
            assertThat(r).isInstanceOf(JwsVerifier.Result.Refused.class);
        }
    }

    /** The issuer allows every algorithm Ward accepts at all. */
    static final Set<JWSAlgorithm> ALL_ALLOWED = new LinkedHashSet<>();

    static {
        PolicyParser.ALGORITHMS.forEach(a -> ALL_ALLOWED.add(JWSAlgorithm.parse(a)));
    }

    static boolean refusedByDesign(String jws, JWK key) throws Exception {
        if (key.getKeyType().getValue().equals("oct")) {
            return true;
        }
        String headerAlg = com.nimbusds.jose.JWSObject.parse(jws).getHeader().getAlgorithm().getName();
        return key.getAlgorithm() != null && !key.getAlgorithm().getName().equals(headerAlg);
    }

    @Test
    void byDesignRefusalsAreFewAndKnown() throws Exception {
        long keyAlgMismatch = 0;
        for (Arguments a : cases().toList()) {
            Object[] args = a.get();
            String jws = ((Named<?>) args[0]).getPayload().toString();
            JWK key = JWK.parse((String) args[1]);
            if ("valid".equals(args[2]) && !key.getKeyType().getValue().equals("oct") && refusedByDesign(jws, key)) {
                keyAlgMismatch++;
            }
        }
        assertThat(keyAlgMismatch).isEqualTo(4);
    }
}
