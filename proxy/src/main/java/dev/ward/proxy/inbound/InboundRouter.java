package dev.ward.proxy.inbound;

import dev.ward.authz.engine.Decision;
import dev.ward.authz.engine.PolicyEngine;
import dev.ward.authz.engine.RequestFacts;
import dev.ward.authz.engine.TokenFacts;
import dev.ward.authz.identity.SpiffeId;
import dev.ward.authz.jwt.TokenVerifier;
import dev.ward.authz.path.PathNormalizer;
import dev.ward.authz.policy.Policy;
import dev.ward.proxy.http.Backend;
import dev.ward.proxy.http.CheckedHeader;
import dev.ward.proxy.http.Headers;
import dev.ward.proxy.http.Route;
import dev.ward.proxy.tls.PeerIdentity;
import dev.ward.telemetry.AuditLog;
import dev.ward.telemetry.RequestRecord;
import io.netty.channel.Channel;
import dev.ward.proxy.policy.PolicySource;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.AsciiString;
import java.util.EnumMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Decides each inbound request against the policy in force: the request-target is normalized
 * (a target that cannot be normalized safely gets 400 with the normalizer's reason), the
 * {@link PolicyEngine} decides on the caller's SPIFFE id, the method, the normalized path and the
 * headers, and an allowed request goes to the app <em>with the normalized target</em>, so the app
 * serves exactly what was authorized. A bearer token, if the policy names token issuers, is
 * verified first; token problems are 401 with an RFC 6750 challenge, and verified claims reach
 * the app as {@code x-ward-jwt-sub} and {@code x-ward-jwt-iss} (incoming ones are stripped). The caller's id goes in {@code x-ward-peer-identity} and
 * {@code x-forwarded-client-cert}, after any such header from outside was removed. A deny is 403
 * with the reason code and nothing else about the policy, and one audit line; the app never
 * sees it. In audit mode the request is allowed and the would-be deny is audited.
 */
public final class InboundRouter implements Route.Router {

    private static final Map<PathNormalizer.SlashAction, PathNormalizer> NORMALIZERS = new EnumMap<>(PathNormalizer.SlashAction.class);

    static {
        for (PathNormalizer.SlashAction a : PathNormalizer.SlashAction.values()) {
            NORMALIZERS.put(a, new PathNormalizer(a));
        }
    }

    private static final String JWT_HEADER_PREFIX = "x-ward-jwt-";

    private final Supplier<PolicySource.Active> policy;
    private final SpiffeId local;
    private final Backend app;
    private final AuditLog audit;

    public InboundRouter(Supplier<PolicySource.Active> policy, SpiffeId local, Backend app, AuditLog audit) {
        this.policy = policy;
        this.local = local;
        this.app = app;
        this.audit = audit;
    }

    @Override
    public Route route(Channel downstream, HttpRequest req) {
        return route(downstream, req, null);
    }

    @Override
    public Route route(Channel downstream, HttpRequest req, RequestRecord record) {
        PolicySource.Active active = policy.get(); // read once: the whole request is decided under one policy
        PolicyEngine engine = active.engine();
        Policy p = engine.policy();
        PathNormalizer.Result r = NORMALIZERS.get(p.encodedSlashes()).normalize(req.uri());
        if (r instanceof PathNormalizer.Result.Rejected rej) {
            return new Route.Reply(HttpResponseStatus.BAD_REQUEST, rej.reason(), rej.detail());
        }
        PathNormalizer.Result.Normalized target = (PathNormalizer.Result.Normalized) r;
        SpiffeId peer = PeerIdentity.of(downstream);
        String method = req.method().name();
        // Without token issuers Ward does not read Authorization at all: it belongs to the app.
        TokenFacts token = active.tokens().hasIssuers()
                ? verifyAuthorization(active.tokens(), req.headers()) : TokenFacts.NONE;
        Decision d = engine.decide(new RequestFacts(peer, method, target.path(), req.headers()::get, token));
        if (record != null) {
            record.authz(!d.allowed() ? "deny" : d.audited() ? "audit_deny" : "allow", d.rule(), d.reason());
        }
        if (!d.allowed() || d.audited()) {
            TokenFacts.Valid v = token instanceof TokenFacts.Valid ok ? ok : null;
            audit.deny(!d.audited(), p.service(), p.version(), peer == null ? null : peer.toString(), method, target.path(),
                    d.rule(), d.reason(), v == null ? null : v.subject(), v == null ? null : v.issuer(),
                    record != null ? record.traceId() : AuditLog.traceId(req.headers().get("traceparent")));
        }
        if (!d.allowed()) {
            if (d.isTokenProblem() && !"token_forbidden".equals(d.reason())) {
                // RFC 6750 3.1: no error code when no token was sent; invalid_token otherwise.
                String challenge = "Bearer realm=\"" + p.service() + "\""
                        + ("token_missing".equals(d.reason()) ? "" : ", error=\"invalid_token\"");
                return new Route.Reply(HttpResponseStatus.UNAUTHORIZED, d.reason(), "a valid bearer token is required",
                        Map.of("www-authenticate", challenge));
            }
            return new Route.Reply(HttpResponseStatus.FORBIDDEN, d.reason(), "the service's policy does not allow this request");
        }
        req.setUri(target.target());
        stripJwtHeaders(req);
        for (String header : p.claimHeaders().values()) {
            req.headers().remove(header);
        }
        if (token instanceof TokenFacts.Valid v) {
            for (CheckedHeader h : claimHeaders(v, p.claimHeaders())) {
                h.set(req.headers());
            }
        }
        // Setting each replaces any value that came from outside.
        PeerHeaders h = peerHeaders(peer);
        h.identity().set(req.headers());
        h.clientCert().set(req.headers());
        return new Route.Forward(app, d.rule());
    }

    /**
     * The last peer's {@code x-ward-peer-identity} and {@code x-forwarded-client-cert} values, made
     * and checked once: a connection's requests all come from one peer, and as bytes the app's
     * HTTP/1.1 encoder copies them whole (as {@code String}s they were checked on every request
     * and encoded a character at a time).
     */
    private record PeerHeaders(SpiffeId peer, CheckedHeader identity, CheckedHeader clientCert) {
    }

    private PeerHeaders lastPeer; // racy on purpose: each value is immutable, a lost update only costs a rebuild

    /**
     * The last verified token's claim headers, made and checked once: a caller sends one token on
     * many requests, and the verifier's cache answers each with the same {@link TokenFacts.Valid}.
     * A value goes as the bytes the HTTP/1.1 encoder made of it when it was set as a string
     * (Latin-1 as it is, any other character as {@code ?}).
     */
    private record ClaimHeaders(TokenFacts.Valid token, Map<String, String> config, CheckedHeader[] headers) {
    }

    private ClaimHeaders lastClaims; // racy on purpose, as lastPeer

    private CheckedHeader[] claimHeaders(TokenFacts.Valid v, Map<String, String> config) {
        ClaimHeaders last = lastClaims;
        if (last == null || last.token() != v || last.config() != config) {
            java.util.List<CheckedHeader> headers = new java.util.ArrayList<>(config.size());
            for (Map.Entry<String, String> e : config.entrySet()) {
                String claim = e.getKey();
                String value = headerValue(claim.equals("iss") ? v.issuer() : claim.equals("sub") ? v.subject() : v.claims().get(claim));
                if (value != null) {
                    headers.add(CheckedHeader.of(AsciiString.of(e.getValue()), new AsciiString(value)));
                }
            }
            last = new ClaimHeaders(v, config, headers.toArray(CheckedHeader[]::new));
            lastClaims = last;
        }
        return last.headers();
    }

    private PeerHeaders peerHeaders(SpiffeId peer) {
        PeerHeaders last = lastPeer;
        if (last == null || !last.peer().equals(peer)) {
            last = new PeerHeaders(peer, CheckedHeader.of(Headers.PEER_IDENTITY, peer.toString()),
                    CheckedHeader.of(Headers.FORWARDED_CLIENT_CERT, "By=" + local + ";URI=" + peer));
            lastPeer = last;
        }
        return last;
    }

    /**
     * A claim as one header value: strings and numbers as they are, lists joined by commas; none for
     * anything else, or for text that is no header value (a control character, a leading space).
     */
    private static String headerValue(Object claim) {
        String v = claim instanceof String str ? str : claim instanceof Number n ? n.toString()
                : claim instanceof java.util.List<?> l && !l.isEmpty() && l.stream().allMatch(x -> x instanceof String || x instanceof Number)
                ? String.join(",", l.stream().map(String::valueOf).toList()) : null;
        if (v == null) {
            return null;
        }
        if (!v.isEmpty() && v.charAt(0) == ' ') {
            return null; // no header value starts with a space (RFC 9110 field-content; the map would refuse it)
        }
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                return null; // a claim may not smuggle header syntax
            }
        }
        return v;
    }

    /**
     * Claims headers are Ward's to set: any arriving from outside are removed first. Reads the
     * names as the map holds them: iterating {@code HttpHeaders} as strings would copy every name
     * and value of every request into a new entry and string (about 0.5 KB per request).
     */
    /**
     * The request's bearer token verified where its bytes arrived: HTTP/2's and HTTP/1.1's
     * decoders leave each header value as an {@link AsciiString}, so a cached token is found with
     * no copy of it made (it used to be copied three times, as a {@code String}, its substring,
     * and bytes to hash: 0.4 µs and 2 KiB per request for a 600-byte token).
     */
    static TokenFacts verifyAuthorization(TokenVerifier verifier, HttpHeaders headers) {
        java.util.Iterator<? extends CharSequence> values = headers.valueCharSequenceIterator(HttpHeaderNames.AUTHORIZATION);
        if (!values.hasNext()) {
            return TokenFacts.NONE;
        }
        CharSequence value = values.next();
        if (values.hasNext()) {
            return TokenVerifier.AMBIGUOUS;
        }
        return value instanceof AsciiString a ? verifier.verifyAuthorization(a.array(), a.arrayOffset(), a.length())
                : verifier.verifyAuthorization(value);
    }

    static void stripJwtHeaders(HttpRequest req) {
        java.util.List<CharSequence> names = null;
        for (java.util.Iterator<Map.Entry<CharSequence, CharSequence>> it = req.headers().iteratorCharSequence(); it.hasNext(); ) {
            CharSequence name = it.next().getKey();
            if (name.length() >= JWT_HEADER_PREFIX.length()
                    && io.netty.util.AsciiString.regionMatches(name, true, 0, JWT_HEADER_PREFIX, 0, JWT_HEADER_PREFIX.length())) {
                (names == null ? names = new java.util.ArrayList<>() : names).add(name);
            }
        }
        if (names != null) {
            names.forEach(req.headers()::remove);
        }
    }
}
