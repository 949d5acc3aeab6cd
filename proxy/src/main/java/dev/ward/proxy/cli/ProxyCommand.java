package dev.ward.proxy.cli;

import dev.ward.proxy.Sidecar;
import dev.ward.proxy.config.ConfigException;
import dev.ward.proxy.config.ConfigLoader;
import dev.ward.proxy.config.SidecarConfig;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ward proxy --config FILE}: runs a sidecar until SIGTERM/SIGINT, then drains. */
@Command(name = "proxy", mixinStandardHelpOptions = true,
        description = {"Run a sidecar from a config file (YAML or JSON).",
            "On SIGTERM or Ctrl-C: stop accepting, finish in-flight requests (limits.drainTimeout), exit."})
final class ProxyCommand implements Callable<Integer> {

    @Option(names = {"-c", "--config"}, required = true, paramLabel = "FILE", description = "Sidecar config file.")
    Path config;

    @Option(names = "--check", description = "Validate the config and the identity files, then exit.")
    boolean check;

    @Override
    public Integer call() throws Exception {
        SidecarConfig cfg;
        try {
            cfg = ConfigLoader.load(config);
        } catch (ConfigException e) {
            System.err.println("ward: " + e.getMessage());
            return 2;
        }
        if (check) {
            try {
                dev.ward.proxy.tls.IdentityMaterial m = dev.ward.proxy.tls.IdentityMaterial.load(cfg.identity().cert(),
                        cfg.identity().key(), cfg.identity().bundle(), java.time.Clock.systemUTC());
                System.out.println(config + ": ok; identity " + m.id() + ", expires " + m.notAfter());
                return 0;
            } catch (java.io.IOException e) {
                System.err.println("ward: identity: " + e.getMessage());
                return 2;
            }
        }
        Sidecar s;
        try {
            s = Sidecar.start(cfg);
        } catch (Sidecar.StartupException e) {
            System.err.println("ward: cannot start: " + e.getMessage());
            return 2;
        }
        Thread hook = new Thread(() -> s.shutdown(cfg.limits().drainTimeout()), "ward-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        s.awaitStopped();
        return 0;
    }
}
