package dev.ward.proxy.cli;

import dev.ward.proxy.Version;
import io.netty.handler.ssl.OpenSsl;
import dev.ward.proxy.transport.Transports;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code ward}: the command line. Each subcommand is its own class. */
@Command(name = "ward", mixinStandardHelpOptions = true, versionProvider = WardCli.VersionProvider.class,
        description = "Ward: a zero-trust sidecar proxy (mTLS with SPIFFE identities) for east-west traffic.",
        subcommands = {ProxyCommand.class, CertsCommand.class, PolicyCommand.class, DemoCommand.class, CommandLine.HelpCommand.class},
        footer = {"", "Start with: ward demo    Docs: README.md and docs/ in the repository."})
public final class WardCli implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI and returns the exit code (for tests). */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new WardCli());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println("ward: " + ex.getMessage());
            return 1;
        });
        return cl.execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Prints Ward's version and what it runs on. */
    static final class VersionProvider implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {
                "ward " + Version.get(),
                "java " + System.getProperty("java.version") + ", netty transport " + Transports.name()
                        + ", TLS " + (OpenSsl.isAvailable() ? OpenSsl.versionString() : "JDK only (BoringSSL unavailable)")
            };
        }
    }
}
