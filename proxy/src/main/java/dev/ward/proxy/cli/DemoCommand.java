package dev.ward.proxy.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ward demo}: two apps, three sidecars, real mTLS on loopback, explained in plain words. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Mint a throwaway trust domain, start two demo apps and their sidecars on loopback, "
                + "make a few calls through them and explain what happened.")
final class DemoCommand implements Callable<Integer> {

    @Option(names = "--keep", description = "Keep everything running after the demo; print ports and curl commands.")
    boolean keep;

    @Override
    public Integer call() throws Exception {
        return new Demo(System.out).run(keep);
    }
}
