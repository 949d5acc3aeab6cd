package dev.ward.proxy.cli;

import dev.ward.proxy.Version;
import io.netty.handler.ssl.OpenSsl;
import dev.ward.proxy.transport.Transport;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code ward}: the command line. Each subcommand is its own class. */
@Command(name = "ward", mixinStandardHelpOptions = true, versionProvider = WardCli.VersionProvider.class,
        description = "Ward: a zero-trust sidecar proxy (mTLS with SPIFFE identities) for east-west traffic.",
        footer = {"", "Start with: ward demo    Docs: README.md and docs/ in the repository."})
public final class WardCli implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        processDefaults();
        System.exit(run(args));
    }

    /**
     * Library defaults Ward changes for the whole process, before any of the library is loaded.
     * A property set on the command line ({@code -D}) wins.
     *
     * <p>{@code io.netty.jfr.enabled=false}: Netty 4.2's pooled allocator registers JDK Flight
     * Recorder events when the JVM has JFR, and that initialises JFR's metadata repository:
     * 0.13 s of start-up pinned to one core (perf/README.md, Start-up). Ward emits no
     * JFR events of its own and does not need Netty's chunk-allocation events.
     *
     * <p>{@code io.netty.allocator.type=pooled}: the allocator Netty hands to what Ward does not
     * configure itself (its default allocator) is then the one pool every connection uses
     * ({@code Transports.ALLOCATOR}), not a second, adaptive one. {@code -Dio.netty.allocator.type=adaptive}
     * makes every connection use the adaptive one.
     *
     * <p>{@code io.netty.leakDetection.level=disabled}: Netty's default leak detection records a stack
     * trace for one buffer in 128 and for every slice of such a buffer; with 16 KiB responses that
     * was 13-15% of the sidecars' event-loop CPU (perf/README.md, Tuning log). Ward's tests track
     * every buffer instead and fail on a leak. {@code -Dio.netty.leakDetection.level=simple} (or
     * {@code paranoid}) turns it on to look for a leak in production.
     */
    static void processDefaults() {
        if (System.getProperty("io.netty.jfr.enabled") == null) {
            System.setProperty("io.netty.jfr.enabled", "false");
        }
        if (System.getProperty("io.netty.allocator.type") == null) {
            System.setProperty("io.netty.allocator.type", "pooled");
        }
        if (System.getProperty("io.netty.leakDetection.level") == null
                && System.getProperty("io.netty.leakDetectionLevel") == null) { // Netty's older name
            System.setProperty("io.netty.leakDetection.level", "disabled");
        }
    }

    /** The subcommands, in the order {@code --help} lists them. */
    private static final java.util.Map<String, java.util.function.Supplier<Object>> SUBCOMMANDS = new java.util.LinkedHashMap<>();

    static {
        SUBCOMMANDS.put("proxy", ProxyCommand::new);
        SUBCOMMANDS.put("certs", CertsCommand::new);
        SUBCOMMANDS.put("policy", PolicyCommand::new);
        SUBCOMMANDS.put("demo", DemoCommand::new);
        SUBCOMMANDS.put("help", CommandLine.HelpCommand::new);
    }

    /** Runs the CLI and returns the exit code (for tests). */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new WardCli());
        // picocli reflects over every subcommand's options when it is added. When the first
        // argument names one (other than help), only that one is added: `ward proxy` starts
        // 0.1 s sooner pinned to one core, and its parsing, help and errors are the same.
        String only = args.length > 0 && SUBCOMMANDS.containsKey(args[0]) && !"help".equals(args[0]) ? args[0] : null;
        SUBCOMMANDS.forEach((name, make) -> {
            if (only == null || only.equals(name)) {
                cl.addSubcommand(name, make.get());
            }
        });
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
                "java " + System.getProperty("java.version") + ", netty transports here: " + Transport.available().stream()
                        .map(Transport::text).collect(java.util.stream.Collectors.joining(", ")) + " (auto: " + Transport.AUTO.resolve().text() + ")"
                        + ", TLS " + (OpenSsl.isAvailable() ? OpenSsl.versionString() : "JDK only (BoringSSL unavailable)")
            };
        }
    }
}
