package dev.ward.proxy.inbound;

import dev.ward.authz.engine.Decision;
import dev.ward.authz.engine.PolicyEngine;
import dev.ward.authz.engine.RequestFacts;
import dev.ward.authz.engine.TokenFacts;
import dev.ward.authz.identity.SpiffeId;
import dev.ward.authz.path.PathNormalizer;
import dev.ward.authz.policy.Policy;
import dev.ward.proxy.http.Backend;
import dev.ward.proxy.http.Headers;
import dev.ward.proxy.http.Route;
import dev.ward.proxy.tls.PeerIdentity;
import dev.ward.telemetry.AuditLog;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.EnumMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Decides each inbound request against the policy in force: the request-target is normalized
 * (a target that cannot be normalized safely gets 400 with the normalizer's reason), the
 * {@link PolicyEngine} decides on the caller's SPIFFE id, the method, the normalized path and the
 * headers, and an allowed request goes to the app <em>with the normalized target</em>, so the app
 * serves exactly what was authorized. The caller's id goes in {@code x-ward-peer-identity} and
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

    private final Supplier<PolicyEngine> policy;
    private final SpiffeId local;
    private final Backend app;
    private final AuditLog audit;

    public InboundRouter(Supplier<PolicyEngine> policy, SpiffeId local, Backend app, AuditLog audit) {
        this.policy = policy;
        this.local = local;
        this.app = app;
        this.audit = audit;
    }

    @Override
    public Route route(Channel downstream, HttpRequest req) {
        PolicyEngine engine = policy.get(); // read once: the whole request is decided under one policy
        Policy p = engine.policy();
        PathNormalizer.Result r = NORMALIZERS.get(p.encodedSlashes()).normalize(req.uri());
        if (r instanceof PathNormalizer.Result.Rejected rej) {
            return new Route.Reply(HttpResponseStatus.BAD_REQUEST, rej.reason(), rej.detail());
        }
        PathNormalizer.Result.Normalized target = (PathNormalizer.Result.Normalized) r;
        SpiffeId peer = PeerIdentity.of(downstream);
        String method = req.method().name();
        Decision d = engine.decide(new RequestFacts(peer, method, target.path(), req.headers()::get, TokenFacts.NONE));
        if (!d.allowed() || d.audited()) {
            audit.deny(!d.audited(), p.service(), p.version(), peer == null ? null : peer.toString(), method, target.path(),
                    d.rule(), d.reason());
        }
        if (!d.allowed()) {
            return new Route.Reply(HttpResponseStatus.FORBIDDEN, d.reason(), "the service's policy does not allow this request");
        }
        req.setUri(target.target());
        req.headers().remove(Headers.PEER_IDENTITY).remove(Headers.FORWARDED_CLIENT_CERT);
        String id = peer.toString();
        req.headers().set(Headers.PEER_IDENTITY, id);
        req.headers().set(Headers.FORWARDED_CLIENT_CERT, "By=" + local + ";URI=" + id);
        return new Route.Forward(app);
    }
}
