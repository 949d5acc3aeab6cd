package dev.ward.proxy.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.ward.authz.identity.AllowList;
import dev.ward.authz.identity.SpiffeId;
import dev.ward.proxy.util.Causes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Reads a {@link SidecarConfig} from YAML (or JSON, which is YAML) and validates it. Unknown
 * fields, bad values and inconsistent settings are all reported at once, each with its path
 * ({@code outbound.upstreams.orders.identity: ...}); nothing is started from a bad config.
 */
public final class ConfigLoader {

    private static final ObjectMapper YAML = configure(new ObjectMapper(new YAMLFactory()));

    private ConfigLoader() {}

    private static ObjectMapper configure(ObjectMapper m) {
        return m.registerModule(Durations.jacksonModule())
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY);
    }

    /** A mapper that writes configs as JSON (for {@code /config}). */
    public static ObjectMapper jsonWriter() {
        return JsonMapper.builder().addModule(Durations.jacksonModule())
                .defaultPropertyInclusion(com.fasterxml.jackson.annotation.JsonInclude.Value.construct(
                        com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL,
                        com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL))
                .build();
    }

    public static SidecarConfig load(Path file) throws ConfigException {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new ConfigException(file.toString(), List.of("cannot read: " + e.getMessage()));
        }
        SidecarConfig c = parse(text, file.toString());
        return resolveRelativeTo(c, file.toAbsolutePath().getParent());
    }

    /** Relative identity paths are read relative to the config file's directory, not the working directory. */
    static SidecarConfig resolveRelativeTo(SidecarConfig c, Path dir) {
        if (dir == null) {
            return c;
        }
        SidecarConfig.Identity i = c.identity();
        SidecarConfig.Identity resolved = new SidecarConfig.Identity(dir.resolve(i.cert()).normalize(),
                dir.resolve(i.key()).normalize(), dir.resolve(i.bundle()).normalize(), i.trustDomain(), i.reloadInterval());
        SidecarConfig.PolicyFile policy = c.policy().file() == null ? c.policy()
                : new SidecarConfig.PolicyFile(dir.resolve(c.policy().file()).normalize(), c.policy().reloadInterval(),
                        c.policy().readyWithoutKeys());
        return new SidecarConfig(resolved, c.tls(), c.inbound(), c.outbound(), c.admin(), c.limits(), c.accessLog(), c.workers(),
                policy, c.tracing(), c.accessLogFile() == null ? null : dir.resolve(c.accessLogFile()).normalize(),
                c.auditLogFile() == null ? null : dir.resolve(c.auditLogFile()).normalize(), c.transport());
    }

    public static SidecarConfig parse(String text, String source) throws ConfigException {
        SidecarConfig c;
        try {
            c = text.isBlank() ? SidecarConfig.defaults() : YAML.readValue(text, SidecarConfig.class);
            if (c == null) {
                c = SidecarConfig.defaults();
            }
        } catch (JsonProcessingException e) {
            throw new ConfigException(source, List.of(describe(e)));
        }
        List<String> problems = validate(c);
        if (!problems.isEmpty()) {
            throw new ConfigException(source, problems);
        }
        return c;
    }

    private static String describe(JsonProcessingException e) {
        if (Causes.root(e) instanceof org.yaml.snakeyaml.error.MarkedYAMLException y) {
            String at = y.getProblemMark() == null ? "" : " at line " + (y.getProblemMark().getLine() + 1)
                    + ", column " + (y.getProblemMark().getColumn() + 1);
            return "not valid YAML" + at + ": " + y.getProblem();
        }
        String path = e instanceof JsonMappingException m ? path(m) : "";
        String where = e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ")";
        if (e instanceof UnrecognizedPropertyException u) {
            String known = u.getKnownPropertyIds() == null ? "" : u.getKnownPropertyIds().stream()
                    .map(String::valueOf).sorted().collect(Collectors.joining(", "));
            return path + ": unknown field" + where + " (expected one of: " + known + ")";
        }
        if (e instanceof com.fasterxml.jackson.databind.exc.MismatchedInputException mi && !(e instanceof InvalidFormatException)
                && mi.getTargetType() != null && !(Causes.root(e) instanceof IllegalArgumentException)) {
            return (path.isEmpty() ? "config" : path) + ": wrong type" + where + " (expected: " + expected(mi.getTargetType()) + ")";
        }
        if (e instanceof InvalidFormatException f) {
            return path + ": bad value '" + f.getValue() + "'" + where + " (expected: "
                    + expected(f.getTargetType()) + ")";
        }
        Throwable root = Causes.root(e);
        if (root instanceof IllegalArgumentException) {
            return (path.isEmpty() ? "" : path + ": ") + root.getMessage() + where;
        }
        if (e instanceof JsonMappingException) {
            return (path.isEmpty() ? "config" : path) + ": " + e.getOriginalMessage() + where;
        }
        return "not valid YAML" + where + ": " + e.getOriginalMessage();
    }

    private static String expected(Class<?> type) {
        if (type.isRecord() || java.util.Map.class.isAssignableFrom(type)) {
            return "a mapping of fields, e.g. { key: value }";
        }
        if (java.util.Collection.class.isAssignableFrom(type)) {
            return "a list, e.g. [a, b]";
        }
        if (type == String.class || type == java.nio.file.Path.class) {
            return "a string";
        }
        if (type == Integer.class || type == int.class) {
            return "a whole number";
        }
        if (type == Boolean.class || type == boolean.class) {
            return "true or false";
        }
        if (type.isEnum()) {
            List<String> names = new ArrayList<>();
            for (Object o : type.getEnumConstants()) {
                names.add(((Enum<?>) o).name().toLowerCase());
            }
            return "one of " + names;
        }
        return type.getSimpleName();
    }

    private static String path(JsonMappingException e) {
        StringBuilder sb = new StringBuilder();
        for (JsonMappingException.Reference r : e.getPath()) {
            if (r.getFieldName() != null) {
                if (sb.length() > 0) {
                    sb.append('.');
                }
                sb.append(r.getFieldName());
            } else if (r.getIndex() >= 0) {
                sb.append('[').append(r.getIndex()).append(']');
            }
        }
        return sb.toString();
    }

    /** Checks what the schema alone cannot; returns every problem found. */
    public static List<String> validate(SidecarConfig c) {
        List<String> p = new ArrayList<>();
        if (c.identity().trustDomain() != null) {
            try {
                SpiffeId.requireTrustDomain(c.identity().trustDomain());
            } catch (IllegalArgumentException e) {
                p.add("identity.trustDomain: " + e.getMessage());
            }
        }
        if (c.identity().reloadInterval().isNegative()) {
            p.add("identity.reloadInterval: must not be negative");
        }
        try {
            AllowList.of(c.inbound().allow());
        } catch (IllegalArgumentException e) {
            p.add("inbound." + e.getMessage());
        }
        if (c.policy().file() != null) {
            if (!c.inbound().allow().isEmpty()) {
                p.add("inbound.allow: not used when policy.file is set (put these callers in a policy rule instead)");
            }
            if (c.inbound().protocol() == SidecarConfig.Protocol.TCP) {
                p.add("policy.file: applies to protocol: http; a tcp listener authorizes by inbound.allow only");
            }
        }
        if (c.policy().reloadInterval().isNegative()) {
            p.add("policy.reloadInterval: must not be negative");
        }
        Map<String, String> hostOwners = new HashMap<>();
        Map<String, String> listenOwners = new HashMap<>();
        listenOwners.put(c.admin().listen().toString(), "admin.listen");
        claim(listenOwners, c.outbound().listen(), "outbound.listen", p);
        if (c.inbound().enabled()) {
            claim(listenOwners, c.inbound().listen(), "inbound.listen", p);
        }
        c.outbound().upstreams().forEach((name, u) -> {
            String at = "outbound.upstreams." + name;
            if (u == null) {
                p.add(at + ": empty (expected: address and identity)");
                return;
            }
            if (!name.matches("[A-Za-z0-9][A-Za-z0-9._-]*")) {
                p.add(at + ": bad upstream name (expected: letters, digits, '.', '-', '_')");
            }
            if (u.address() == null && u.endpoints().isEmpty()) {
                p.add(at + ".address: required (expected: host:port of the upstream's inbound listener, "
                        + "or endpoints: [host:port, ...])");
            } else if (u.address() != null && !u.endpoints().isEmpty()) {
                p.add(at + ": address and endpoints both set (expected: one of them)");
            }
            for (int i = 0; i < u.endpointEntries().size(); i++) {
                HostPort hp = u.endpointEntries().get(i);
                if (hp == null) {
                    p.add(at + ".endpoints[" + i + "]: empty (expected: host:port)");
                } else if (hp.port() == 0) {
                    p.add(at + (u.address() != null ? ".address" : ".endpoints[" + i + "]")
                            + ": port 0 (expected: the upstream's real port)");
                }
            }
            if (u.resolveInterval().isNegative() || u.resolveInterval().isZero()) {
                p.add(at + ".resolveInterval: must be positive");
            }
            UpstreamValidation.validate(at, u, p);
            if (u.identity() == null) {
                p.add(at + ".identity: required (expected: the upstream's spiffe:// id)");
            } else {
                try {
                    SpiffeId.parse(u.identity());
                } catch (IllegalArgumentException e) {
                    p.add(at + ".identity: " + e.getMessage());
                }
            }
            if (u.listen() != null) {
                claim(listenOwners, u.listen(), at + ".listen", p);
            }
            List<String> names = new ArrayList<>(u.hosts());
            names.add(name);
            for (String h : names) {
                String prev = hostOwners.putIfAbsent(h.toLowerCase(), at);
                if (prev != null && !prev.equals(at)) {
                    p.add(at + ".hosts: '" + h + "' is already routed to " + prev);
                }
            }
        });
        positive(c.workers(), "workers", p);
        SidecarConfig.Limits l = c.limits();
        positive(l.maxHeaderSize(), "limits.maxHeaderSize", p);
        positive(l.maxInitialLineLength(), "limits.maxInitialLineLength", p);
        positive(l.maxConnections(), "limits.maxConnections", p);
        positive(l.maxConcurrentStreams(), "limits.maxConcurrentStreams", p);
        if (l.headerReadTimeout().isNegative() || l.headerReadTimeout().isZero()) {
            p.add("limits.headerReadTimeout: must be positive");
        }
        if (l.idleTimeout().isNegative() || l.idleTimeout().isZero()) {
            p.add("limits.idleTimeout: must be positive");
        }
        if (l.drainTimeout().isNegative()) {
            p.add("limits.drainTimeout: must not be negative");
        }
        if (c.tls().handshakeTimeout().isNegative() || c.tls().handshakeTimeout().isZero()) {
            p.add("tls.handshakeTimeout: must be positive");
        }
        return p;
    }

    private static void claim(Map<String, String> owners, HostPort hp, String field, List<String> p) {
        if (hp.port() == 0) {
            return; // ephemeral ports never collide
        }
        String prev = owners.putIfAbsent(hp.toString(), field);
        if (prev != null) {
            p.add(field + ": " + hp + " is already used by " + prev);
        }
    }

    private static void positive(int v, String field, List<String> p) {
        if (v <= 0) {
            p.add(field + ": " + v + " (expected: a positive number)");
        }
    }
}
