package dev.ward.authz.engine;

import dev.ward.authz.identity.SpiffeId;
import java.util.function.Function;

/**
 * The facts a decision is made on: the caller's verified SPIFFE id (null: unauthenticated), the
 * method, the <em>normalized</em> path (see {@code PathNormalizer}), a header lookup by
 * lower-case name (first value or null) and the token verdict.
 */
public record RequestFacts(SpiffeId peer, String method, String path, Function<String, String> headers, TokenFacts token) {

    public static RequestFacts of(SpiffeId peer, String method, String path) {
        return new RequestFacts(peer, method, path, h -> null, TokenFacts.NONE);
    }
}
