package dev.ward.proxy.policy;

import dev.ward.authz.engine.PolicyEngine;
import dev.ward.authz.policy.Policy;
import dev.ward.authz.policy.PolicyException;
import dev.ward.authz.policy.PolicyParser;
import dev.ward.authz.jwt.JwksSource;
import dev.ward.authz.jwt.TokenVerifier;
import dev.ward.telemetry.AuditLog;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Supplies the compiled policy in force. From a file, it is polled and a valid new version is
 * swapped in atomically (each request reads the engine once, so in-flight requests finish under
 * the policy they started with, and long-lived connections pick up the new one at their next
 * request); an invalid version is refused with the validator's messages and the old one stays.
 * From {@code inbound.allow}, it is a fixed one-rule policy.
 */
public final class PolicySource implements Supplier<PolicyEngine>, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(PolicySource.class);

    /** What {@code /policy} shows. */
    public record Status(String source, Instant loadedAt, String lastError) {}

    private final Path file;
    private final AuditLog audit;
    /** The policy in force: its compiled engine and its token verifier, swapped together. */
    public record Active(PolicyEngine engine, TokenVerifier tokens) {}

    private final AtomicReference<Active> active = new AtomicReference<>();
    private volatile String fingerprint;
    private volatile String failedFingerprint;
    private volatile Instant loadedAt;
    private volatile String lastError;
    private dev.ward.proxy.util.Poller watcher;

    private PolicySource(Path file, AuditLog audit) {
        this.file = file;
        this.audit = audit;
    }

    /** Loads {@code file} now; fails with every problem if it is not a valid policy this build can enforce. */
    public static PolicySource fromFile(Path file, AuditLog audit) throws PolicyException {
        PolicySource s = new PolicySource(file, audit);
        String fp = s.fingerprintOrNull();
        s.install(load(file), fp);
        return s;
    }

    /** {@code inbound.allow} as a policy: those callers may make any request; everyone else is denied. */
    public static PolicySource fromAllowList(List<String> allow, AuditLog audit) throws PolicyException {
        StringBuilder yaml = new StringBuilder("service: inbound\nversion: inbound.allow\n");
        if (!allow.isEmpty()) {
            yaml.append("rules:\n  - name: inbound-allow\n    methods: [\"*\"]\n    paths: [\"/*\"]\n    from:\n");
            for (String a : allow) {
                yaml.append("      - \"").append(a.replace("\"", "")).append("\"\n");
            }
        }
        PolicySource s = new PolicySource(null, audit);
        s.install(PolicyParser.parse(yaml.toString(), "inbound.allow"), null);
        return s;
    }

    private static Policy load(Path file) throws PolicyException {
        Policy p = PolicyParser.load(file);
        List<String> problems = new java.util.ArrayList<>();
        for (int i = 0; i < p.tokens().size(); i++) {
            Policy.TokenIssuer t = p.tokens().get(i);
            if (t.jwksUrl() != null) {
                if (t.jwksCa() != null && !Files.isRegularFile(t.jwksCa())) {
                    problems.add("tokens[" + i + "].jwks.ca: " + t.jwksCa() + ": no such file");
                }
            } else if (!Files.isRegularFile(t.jwksFile())) {
                problems.add("tokens[" + i + "].jwks.file: " + t.jwksFile() + ": no such file");
            }
        }
        if (!problems.isEmpty()) {
            throw new PolicyException(file.toString(), problems);
        }
        return p;
    }

    /** How often keys fetched from a URL are refreshed, and how often an unknown kid may trigger a fetch. */
    static final Duration JWKS_REFRESH = Duration.ofMinutes(5);
    static final Duration JWKS_MIN_INTERVAL = Duration.ofSeconds(30);

    /** The token verifier for a policy's issuers (starts URL fetchers; close it when done). */
    public static TokenVerifier verifierFor(Policy p, String source) throws PolicyException {
        Map<Policy.TokenIssuer, JwksSource> issuers = new LinkedHashMap<>();
        for (Policy.TokenIssuer t : p.tokens()) {
            if (t.jwksUrl() != null) {
                javax.net.ssl.SSLContext tls = null;
                if (t.jwksCa() != null) {
                    try {
                        tls = JwksSource.FromUrl.trusting(t.jwksCa());
                    } catch (IOException e) {
                        issuers.values().forEach(JwksSource::close);
                        throw new PolicyException(source, List.of("tokens: " + t.issuer() + ": jwks.ca: " + e.getMessage()));
                    }
                }
                issuers.put(t, new JwksSource.FromUrl(t.jwksUrl(), tls, Clock.systemUTC(), JWKS_REFRESH, JWKS_MIN_INTERVAL));
            } else {
                issuers.put(t, new JwksSource.FromFile(t.jwksFile(), Clock.systemUTC(), Duration.ofSeconds(1)));
            }
        }
        return new TokenVerifier(issuers, Clock.systemUTC());
    }

    private void install(Policy p, String fp) throws PolicyException {
        Active old = active.getAndSet(new Active(PolicyEngine.compile(p), verifierFor(p, source())));
        if (old != null) {
            old.tokens().close(); // stop the old key fetchers; in-flight requests still read their keys
        }
        fingerprint = fp;
        loadedAt = Instant.now();
        lastError = null;
        audit.policy("policy_loaded", p.service(), p.version(), source(), p.rules().size() + " rules, mode "
                + p.mode().name().toLowerCase() + ", default " + (p.defaultAllow() ? "allow" : "deny"));
    }

    /** Starts polling the file every {@code interval} ({@code 0s}: never). */
    public synchronized void watch(Duration interval) {
        if (file != null && watcher == null) {
            watcher = dev.ward.proxy.util.Poller.every(interval, "ward-policy-watch", this::reloadIfChanged);
        }
    }

    /** Reloads if the file changed; returns true if a new policy is in force. */
    public boolean reloadIfChanged() {
        String fp = fingerprintOrNull();
        if (fp == null || fp.equals(fingerprint) || fp.equals(failedFingerprint)) {
            return false;
        }
        try {
            Policy p = load(file);
            install(p, fp);
            failedFingerprint = null;
            log.info("policy reloaded from {}: service {}, version {}, {} rules", file, p.service(), p.version(), p.rules().size());
            return true;
        } catch (PolicyException e) {
            failedFingerprint = fp;
            lastError = e.getMessage();
            log.error("policy change refused, keeping the policy in force: {}", e.getMessage());
            audit.policy("policy_refused", null, null, source(), String.join("; ", e.problems()));
            return false;
        }
    }

    private String fingerprintOrNull() {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
        } catch (IOException | NoSuchAlgorithmException e) {
            return null;
        }
    }

    private String source() {
        return file == null ? "inbound.allow" : file.toString();
    }

    @Override
    public PolicyEngine get() {
        return active.get().engine();
    }

    /** Engine and token verifier of the policy in force, read together. */
    public Active active() {
        return active.get();
    }

    public Status status() {
        return new Status(source(), loadedAt, lastError);
    }

    @Override
    public synchronized void close() {
        Active a = active.get();
        if (a != null) {
            a.tokens().close();
        }
        if (watcher != null) {
            watcher.close();
            watcher = null;
        }
    }
}
