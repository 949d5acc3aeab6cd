package dev.ward.proxy.cli;

import dev.ward.authz.identity.SpiffeId;
import dev.ward.proxy.certs.DevCertificateAuthority;
import dev.ward.proxy.config.Durations;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ward certs}: a development CA and SPIFFE leaf certificates (EC P-256). */
@Command(name = "certs", mixinStandardHelpOptions = true,
        description = "Mint a development trust domain: a CA, and leaf certificates whose only identity is a SPIFFE id.",
        subcommands = {CertsCommand.Ca.class, CertsCommand.Issue.class})
final class CertsCommand implements Runnable {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(name = "ca", mixinStandardHelpOptions = true, description = "Create a CA: writes ca.crt and ca.key (0600).")
    static final class Ca implements Callable<Integer> {
        @Option(names = "--trust-domain", required = true, paramLabel = "DOMAIN", description = "e.g. prod.example")
        String trustDomain;

        @Option(names = "--out", required = true, paramLabel = "DIR")
        Path out;

        @Option(names = "--ttl", defaultValue = "365d", paramLabel = "DURATION", description = "Validity (default: ${DEFAULT-VALUE}).")
        String ttl;

        @Option(names = "--force", description = "Overwrite an existing CA in DIR.")
        boolean force;

        @Override
        public Integer call() throws Exception {
            if (!force && Files.exists(out.resolve(DevCertificateAuthority.CA_KEY))) {
                System.err.println("ward: " + out.resolve(DevCertificateAuthority.CA_KEY) + " exists (use --force to replace it)");
                return 2;
            }
            DevCertificateAuthority ca = DevCertificateAuthority.create(trustDomain, Durations.parse(ttl));
            ca.writeTo(out);
            System.out.println("CA for trust domain " + trustDomain + " written to " + out.resolve("ca.crt") + " and ca.key");
            return 0;
        }
    }

    @Command(name = "issue", mixinStandardHelpOptions = true,
            description = "Issue a leaf for a SPIFFE id: writes tls.crt, tls.key (0600) and ca.crt (the bundle).")
    static final class Issue implements Callable<Integer> {
        @Option(names = "--ca", required = true, paramLabel = "DIR", description = "Directory of `ward certs ca`.")
        Path caDir;

        @Option(names = "--id", required = true, paramLabel = "SPIFFE_ID", description = "e.g. spiffe://prod.example/ns/shop/sa/orders")
        String id;

        @Option(names = "--out", required = true, paramLabel = "DIR")
        Path out;

        @Option(names = "--ttl", defaultValue = "24h", paramLabel = "DURATION", description = "Validity (default: ${DEFAULT-VALUE}).")
        String ttl;

        @Option(names = "--dns", paramLabel = "NAME",
                description = "Also put this DNS name in the certificate, for peers that check host names "
                        + "(nginx, HAProxy, curl). Repeatable. Ward checks only the SPIFFE id.")
        List<String> dns = new ArrayList<>();

        @Override
        public Integer call() throws Exception {
            SpiffeId spiffe = SpiffeId.parse(id);
            Duration d = Durations.parse(ttl);
            DevCertificateAuthority ca = DevCertificateAuthority.load(caDir);
            DevCertificateAuthority.Leaf leaf = ca.issue(spiffe, d, dns);
            leaf.writeTo(out);
            System.out.println("issued " + spiffe + " (valid until " + leaf.certificate().getNotAfter().toInstant()
                    + ") to " + out.resolve("tls.crt") + ", tls.key, ca.crt");
            return 0;
        }
    }
}
