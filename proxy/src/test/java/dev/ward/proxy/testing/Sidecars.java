package dev.ward.proxy.testing;

import dev.ward.authz.identity.SpiffeId;
import dev.ward.proxy.Sidecar;
import dev.ward.proxy.config.ConfigLoader;
import java.nio.file.Path;

/** Starts sidecars from YAML snippets, with the identity in {@code certs} and loopback ports. */
public final class Sidecars {

    private Sidecars() {}

    public static String identity(Path certs) {
        return "identity: { cert: " + certs.resolve("tls.crt") + ", key: " + certs.resolve("tls.key")
                + ", bundle: " + certs.resolve("ca.crt") + ", reloadInterval: 100ms }\n";
    }

    /** An inbound sidecar in front of {@code appPort} that allows {@code allow}. */
    public static Sidecar inbound(Path certs, int appPort, String extraYaml, SpiffeId... allow) throws Exception {
        StringBuilder list = new StringBuilder();
        for (SpiffeId id : allow) {
            list.append(list.length() == 0 ? "" : ", ").append(id);
        }
        return start(identity(certs)
                + "inbound: { listen: 127.0.0.1:0, app: 127.0.0.1:" + appPort + ", allow: [" + list + "] }\n"
                + "outbound: { listen: 127.0.0.1:0 }\n" + extraYaml);
    }

    /** An outbound-only sidecar with one upstream {@code orders} at {@code upstreamPort}. */
    public static Sidecar outbound(Path certs, int upstreamPort, SpiffeId expected, String protocol) throws Exception {
        return outbound(certs, upstreamPort, expected, protocol, "");
    }

    /** The same, with more YAML appended (e.g. {@code workers: 1}). */
    public static Sidecar outbound(Path certs, int upstreamPort, SpiffeId expected, String protocol, String extraYaml)
            throws Exception {
        return start(extraYaml + identity(certs) + """
                inbound: { enabled: false }
                outbound:
                  listen: 127.0.0.1:0
                  upstreams:
                    orders: { address: 127.0.0.1:%d, identity: %s, protocol: %s, listen: 127.0.0.1:0 }
                """.formatted(upstreamPort, expected, protocol));
    }

    public static Sidecar start(String yaml) throws Exception {
        return Sidecar.start(ConfigLoader.parse(yaml + "admin: { listen: 127.0.0.1:0 }\n", "test"));
    }
}
