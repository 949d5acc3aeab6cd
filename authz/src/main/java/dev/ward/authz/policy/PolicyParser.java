package dev.ward.authz.policy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.ward.authz.identity.IdentityPattern;
import dev.ward.authz.path.PathNormalizer;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads a policy document (YAML, or JSON which is YAML) and validates all of it, collecting
 * every problem with its location ({@code rules[2].paths[0]: must start with "/"}), unknown
 * fields included, before refusing it. A document either yields a whole {@link Policy} or
 * nothing: never half of one.
 */
public final class PolicyParser {

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final Set<String> ROOT = Set.of("service", "version", "mode", "default", "encodedSlashes", "tokens", "rules",
            "claimHeaders");
    private static final Set<String> RULE = Set.of("name", "from", "methods", "paths", "headers", "token");
    private static final Set<String> TOKEN = Set.of("issuer", "jwks", "audiences", "algorithms");
    private static final Set<String> JWKS = Set.of("file", "url", "ca");
    /** Asymmetric JWS algorithms only: never "none", never HMAC (a public key must not be a shared secret). */
    public static final Set<String> ALGORITHMS = new LinkedHashSet<>(List.of(
            "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"));
    public static final List<String> DEFAULT_ALGORITHMS = List.of("RS256", "ES256", "EdDSA");
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    private static final Pattern TOKEN_CHARS = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+");

    private PolicyParser() {}

    /** Reads {@code file}; relative JWKS file paths are taken from the policy file's directory. */
    public static Policy load(Path file) throws PolicyException {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new PolicyException(file.toString(), List.of("cannot read: " + e.getMessage()));
        }
        return parse(text, file.toString(), file.toAbsolutePath().getParent());
    }

    public static Policy parse(String text, String source) throws PolicyException {
        return parse(text, source, null);
    }

    public static Policy parse(String text, String source, Path baseDir) throws PolicyException {
        JsonNode root;
        try {
            root = YAML.readTree(text);
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr()
                    + ", column " + e.getLocation().getColumnNr();
            throw new PolicyException(source, List.of("not valid YAML or JSON" + where + ": " + e.getOriginalMessage()));
        }
        List<String> p = new ArrayList<>();
        Policy policy = new Walker(p, baseDir).policy(root);
        if (!p.isEmpty()) {
            throw new PolicyException(source, p);
        }
        return policy;
    }

    /** Walks the tree once, adding every problem found to {@code p}. */
    private static final class Walker {
        private final List<String> p;
        private final Path baseDir;

        Walker(List<String> p, Path baseDir) {
            this.p = p;
            this.baseDir = baseDir;
        }

        Policy policy(JsonNode root) {
            if (root == null || root.isMissingNode() || root.isNull()) {
                p.add("the document is empty (expected: a mapping with at least 'service')");
                return null;
            }
            if (!root.isObject()) {
                p.add("the document must be a mapping (found " + kind(root) + ")");
                return null;
            }
            unknown(root, ROOT, "");
            String service = string(root, "service", "service", true);
            if (service != null && !NAME.matcher(service).matches()) {
                p.add("service: '" + service + "' (expected: letters, digits, '.', '-', '_')");
            }
            String version = string(root, "version", "version", false);
            Policy.Mode mode = Policy.Mode.ENFORCE;
            String m = string(root, "mode", "mode", false);
            if (m != null) {
                switch (m) {
                    case "enforce" -> mode = Policy.Mode.ENFORCE;
                    case "audit" -> mode = Policy.Mode.AUDIT;
                    default -> p.add("mode: '" + m + "' (expected: enforce or audit)");
                }
            }
            boolean defaultAllow = false;
            String d = string(root, "default", "default", false);
            if (d != null) {
                switch (d) {
                    case "deny" -> defaultAllow = false;
                    case "allow" -> defaultAllow = true;
                    default -> p.add("default: '" + d + "' (expected: deny or allow)");
                }
            }
            PathNormalizer.SlashAction slashes = PathNormalizer.SlashAction.REJECT;
            String es = string(root, "encodedSlashes", "encodedSlashes", false);
            if (es != null) {
                try {
                    slashes = PathNormalizer.SlashAction.valueOf(es.toUpperCase(Locale.ROOT));
                } catch (IllegalArgumentException e) {
                    p.add("encodedSlashes: '" + es + "' (expected: reject, keep or decode)");
                }
            }
            List<Policy.TokenIssuer> tokens = new ArrayList<>();
            JsonNode tn = root.get("tokens");
            if (tn != null && !tn.isNull()) {
                if (!tn.isArray()) {
                    p.add("tokens: must be a list (found " + kind(tn) + ")");
                } else {
                    Set<String> issuers = new HashSet<>();
                    for (int i = 0; i < tn.size(); i++) {
                        Policy.TokenIssuer t = token(tn.get(i), "tokens[" + i + "]");
                        if (t != null) {
                            if (!issuers.add(t.issuer())) {
                                p.add("tokens[" + i + "].issuer: '" + t.issuer() + "' is listed twice");
                            }
                            tokens.add(t);
                        }
                    }
                }
            }
            List<Policy.Rule> rules = new ArrayList<>();
            JsonNode rn = root.get("rules");
            if (rn != null && !rn.isNull()) {
                if (!rn.isArray()) {
                    p.add("rules: must be a list (found " + kind(rn) + ")");
                } else {
                    Set<String> names = new HashSet<>();
                    for (int i = 0; i < rn.size(); i++) {
                        Policy.Rule r = rule(rn.get(i), "rules[" + i + "]", !tokens.isEmpty());
                        if (r != null) {
                            if (!names.add(r.name())) {
                                p.add("rules[" + i + "].name: '" + r.name() + "' is used by an earlier rule");
                            }
                            rules.add(r);
                        }
                    }
                }
            }
            Map<String, String> claimHeaders = Policy.DEFAULT_CLAIM_HEADERS;
            JsonNode ch = root.get("claimHeaders");
            if (ch != null && !ch.isNull()) {
                if (!ch.isObject()) {
                    p.add("claimHeaders: must be a mapping of claim name to header name (found " + kind(ch) + ")");
                } else {
                    claimHeaders = new LinkedHashMap<>();
                    for (Map.Entry<String, JsonNode> f : ch.properties()) {
                        String h = f.getValue().isTextual() ? f.getValue().asText().trim().toLowerCase(Locale.ROOT) : "";
                        if (!h.startsWith("x-") || !TOKEN_CHARS.matcher(h).matches()) {
                            p.add("claimHeaders." + f.getKey() + ": '" + f.getValue().asText() + "' (expected: a header name starting with x-)");
                        } else {
                            claimHeaders.put(f.getKey(), h);
                        }
                    }
                    claimHeaders = Map.copyOf(claimHeaders);
                }
            }
            return new Policy(service, version, mode, defaultAllow, slashes, List.copyOf(tokens), List.copyOf(rules), claimHeaders);
        }

        Policy.Rule rule(JsonNode n, String at, boolean haveIssuers) {
            if (!n.isObject()) {
                p.add(at + ": must be a mapping (found " + kind(n) + ")");
                return null;
            }
            int before = p.size();
            unknown(n, RULE, at + ".");
            String name = string(n, "name", at + ".name", true);
            if (name != null && !NAME.matcher(name).matches()) {
                p.add(at + ".name: '" + name + "' (expected: letters, digits, '.', '-', '_')");
            }
            List<IdentityPattern> from = new ArrayList<>();
            for (var e : list(n, "from", at, "spiffe ids or patterns, e.g. [spiffe://td/ns/shop/*]")) {
                try {
                    from.add(IdentityPattern.parse(e.getValue()));
                } catch (IllegalArgumentException ex) {
                    p.add(e.getKey() + ": " + ex.getMessage());
                }
            }
            Set<String> methods = new LinkedHashSet<>();
            for (var e : list(n, "methods", at, "HTTP methods, e.g. [GET, HEAD], or [\"*\"] for any")) {
                String v = e.getValue();
                if (!v.equals("*") && (!TOKEN_CHARS.matcher(v).matches() || !v.equals(v.toUpperCase(Locale.ROOT)))) {
                    p.add(e.getKey() + ": '" + v + "' (expected: an upper-case HTTP method such as GET, or \"*\")");
                }
                methods.add(v);
            }
            if (methods.contains("*") && methods.size() > 1) {
                p.add(at + ".methods: \"*\" already means any method; list it alone");
            }
            List<PathPattern> paths = new ArrayList<>();
            for (var e : list(n, "paths", at, "paths such as [/orders, /orders/*], or [\"/*\"] for any")) {
                try {
                    paths.add(PathPattern.parse(e.getValue()));
                } catch (IllegalArgumentException ex) {
                    p.add(e.getKey() + ": " + ex.getMessage());
                }
            }
            Map<String, String> headers = new LinkedHashMap<>();
            JsonNode hn = n.get("headers");
            if (hn != null && !hn.isNull()) {
                if (!hn.isObject()) {
                    p.add(at + ".headers: must be a mapping of header name to value (found " + kind(hn) + ")");
                } else {
                    for (Map.Entry<String, JsonNode> f : hn.properties()) {
                        String hname = f.getKey().toLowerCase(Locale.ROOT);
                        if (!TOKEN_CHARS.matcher(hname).matches()) {
                            p.add(at + ".headers." + f.getKey() + ": not a valid header name");
                        } else if (!f.getValue().isValueNode() || f.getValue().isNull()) {
                            p.add(at + ".headers." + f.getKey() + ": must be a single value");
                        } else if (hname.equals("authorization")) {
                            p.add(at + ".headers.authorization: use 'token' to require a bearer token, not a header match");
                        } else {
                            headers.put(hname, f.getValue().asText());
                        }
                    }
                }
            }
            Policy.TokenRequirement token = Policy.TokenRequirement.OPTIONAL;
            String t = string(n, "token", at + ".token", false);
            if (t != null) {
                switch (t) {
                    case "required" -> token = Policy.TokenRequirement.REQUIRED;
                    case "optional" -> token = Policy.TokenRequirement.OPTIONAL;
                    case "forbidden" -> token = Policy.TokenRequirement.FORBIDDEN;
                    default -> p.add(at + ".token: '" + t + "' (expected: required, optional or forbidden)");
                }
                if (token == Policy.TokenRequirement.REQUIRED && !haveIssuers) {
                    p.add(at + ".token: required, but the policy lists no token issuers under 'tokens'");
                }
            }
            if (p.size() > before) {
                return null;
            }
            return new Policy.Rule(name, List.copyOf(from), Set.copyOf(methods), List.copyOf(paths), Map.copyOf(headers), token);
        }

        Policy.TokenIssuer token(JsonNode n, String at) {
            if (!n.isObject()) {
                p.add(at + ": must be a mapping (found " + kind(n) + ")");
                return null;
            }
            int before = p.size();
            unknown(n, TOKEN, at + ".");
            String issuer = string(n, "issuer", at + ".issuer", true);
            Path file = null;
            URI url = null;
            Path ca = null;
            JsonNode j = n.get("jwks");
            if (j == null || j.isNull()) {
                p.add(at + ".jwks: required (expected: { file: PATH } or { url: https://... })");
            } else if (!j.isObject()) {
                p.add(at + ".jwks: must be a mapping (found " + kind(j) + ")");
            } else {
                unknown(j, JWKS, at + ".jwks.");
                String f = string(j, "file", at + ".jwks.file", false);
                String u = string(j, "url", at + ".jwks.url", false);
                if ((f == null) == (u == null)) {
                    p.add(at + ".jwks: give exactly one of file or url");
                }
                if (f != null) {
                    file = baseDir == null ? Path.of(f) : baseDir.resolve(f).normalize();
                }
                String c = string(j, "ca", at + ".jwks.ca", false);
                if (c != null) {
                    if (u == null) {
                        p.add(at + ".jwks.ca: only used with jwks.url");
                    }
                    ca = baseDir == null ? Path.of(c) : baseDir.resolve(c).normalize();
                }
                if (u != null) {
                    try {
                        url = URI.create(u);
                        if (!"https".equals(url.getScheme()) || url.getHost() == null) {
                            p.add(at + ".jwks.url: '" + u + "' (expected: an https:// URL)");
                        }
                    } catch (IllegalArgumentException e) {
                        p.add(at + ".jwks.url: '" + u + "' is not a URL");
                    }
                }
            }
            List<String> audiences = new ArrayList<>();
            for (var e : list(n, "audiences", at, "accepted audiences, e.g. [orders]")) {
                audiences.add(e.getValue());
            }
            List<String> algorithms = new ArrayList<>();
            if (n.has("algorithms")) {
                for (var e : list(n, "algorithms", at, "e.g. [RS256, ES256]")) {
                    if (!ALGORITHMS.contains(e.getValue())) {
                        p.add(e.getKey() + ": '" + e.getValue() + "' is not allowed (expected one of " + ALGORITHMS
                                + "; never none or HMAC)");
                    }
                    algorithms.add(e.getValue());
                }
            } else {
                algorithms.addAll(DEFAULT_ALGORITHMS);
            }
            return p.size() > before ? null
                    : new Policy.TokenIssuer(issuer, file, url, ca, List.copyOf(audiences), List.copyOf(algorithms));
        }

        /** A required, non-empty list of strings; entries are returned with their location. */
        List<Map.Entry<String, String>> list(JsonNode n, String field, String at, String expected) {
            List<Map.Entry<String, String>> out = new ArrayList<>();
            JsonNode l = n.get(field);
            String loc = at + "." + field;
            if (l == null || l.isNull()) {
                p.add(loc + ": required (expected: " + expected + ")");
                return out;
            }
            if (!l.isArray()) {
                p.add(loc + ": must be a list (found " + kind(l) + "; expected: " + expected + ")");
                return out;
            }
            if (l.isEmpty()) {
                p.add(loc + ": empty, so nothing could ever match (expected: " + expected + ")");
                return out;
            }
            for (int i = 0; i < l.size(); i++) {
                JsonNode v = l.get(i);
                if (!v.isTextual() || v.asText().isBlank()) {
                    p.add(loc + "[" + i + "]: must be a non-empty string (found " + kind(v) + ")");
                } else {
                    out.add(Map.entry(loc + "[" + i + "]", v.asText().trim()));
                }
            }
            return out;
        }

        String string(JsonNode n, String field, String loc, boolean required) {
            JsonNode v = n.get(field);
            if (v == null || v.isNull()) {
                if (required) {
                    p.add(loc + ": required");
                }
                return null;
            }
            if (!v.isValueNode() || v.isBoolean() && !field.equals("default")) {
                p.add(loc + ": must be a string (found " + kind(v) + ")");
                return null;
            }
            String s = v.asText().trim();
            if (s.isEmpty()) {
                p.add(loc + ": must not be empty");
                return null;
            }
            return s;
        }

        void unknown(JsonNode n, Set<String> known, String prefix) {
            for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
                String f = it.next();
                if (!known.contains(f)) {
                    p.add(prefix + f + ": unknown field (expected one of: " + String.join(", ", new java.util.TreeSet<>(known)) + ")");
                }
            }
        }

        static String kind(JsonNode n) {
            if (n.isObject()) {
                return "a mapping";
            }
            if (n.isArray()) {
                return "a list";
            }
            if (n.isNumber()) {
                return "a number";
            }
            if (n.isBoolean()) {
                return "true/false";
            }
            if (n.isNull()) {
                return "nothing";
            }
            return "'" + n.asText() + "'";
        }
    }
}
