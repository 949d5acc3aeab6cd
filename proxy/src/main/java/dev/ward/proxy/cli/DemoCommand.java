package dev.ward.proxy.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ward demo}: two apps, three sidecars, real mTLS on loopback, explained in plain words. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Mint a throwaway trust domain, start two demo apps and their sidecars on loopback, "
                + "make a few calls through them and explain what happened. With --traces, show each call's trace in Zipkin.")
final class DemoCommand implements Callable<Integer> {

    @Option(names = "--keep", description = "Keep everything running after the demo; print ports and curl commands.")
    boolean keep;

    @Option(names = "--traces", description = "Also start a Zipkin server (in-memory) and trace every call; "
            + "print where each trace can be viewed.")
    boolean traces;

    @Option(names = "--traces-endpoint", paramLabel = "URL",
            description = "Send the demo's traces to your own backend instead (Jaeger, a collector, Zipkin), e.g. http://localhost:4317.")
    String tracesEndpoint;

    @Option(names = "--traces-exporter", paramLabel = "otlp|otlp-http|zipkin", defaultValue = "otlp",
            description = "How to send to --traces-endpoint (default: ${DEFAULT-VALUE}, gRPC).")
    String tracesExporter;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (traces && tracesEndpoint != null) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--traces starts a Zipkin server; --traces-endpoint sends to yours: pick one");
        }
        if (!java.util.Set.of("otlp", "otlp-http", "zipkin").contains(tracesExporter)) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--traces-exporter: " + tracesExporter + " (expected otlp, otlp-http or zipkin)");
        }
        return new Demo(System.out, new Demo.Traces(traces, tracesEndpoint, tracesExporter)).run(keep);
    }
}
