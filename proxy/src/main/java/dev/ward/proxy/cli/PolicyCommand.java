package dev.ward.proxy.cli;

import dev.ward.authz.engine.PolicyEngine;
import dev.ward.authz.policy.Policy;
import dev.ward.authz.policy.PolicyException;
import dev.ward.authz.policy.PolicyParser;
import dev.ward.proxy.policy.Explainer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ward policy}: check a policy file, and ask it about a request without sending one. */
@Command(name = "policy", mixinStandardHelpOptions = true, description = "Validate a policy, or explain a decision.",
        subcommands = {PolicyCommand.Validate.class, PolicyCommand.Explain.class})
final class PolicyCommand implements Runnable {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(name = "validate", mixinStandardHelpOptions = true,
            description = "Check policy files; print every problem with its location. Exit 0 if all are valid.")
    static final class Validate implements Callable<Integer> {
        @Parameters(arity = "1..*", paramLabel = "FILE")
        List<Path> files;

        @Override
        public Integer call() {
            int bad = 0;
            for (Path f : files) {
                try {
                    Policy p = PolicyParser.load(f);
                    System.out.println(f + ": ok (service " + p.service() + ", " + p.rules().size() + " rules, mode "
                            + p.mode().name().toLowerCase() + ", default " + (p.defaultAllow() ? "allow" : "deny") + ")");
                } catch (PolicyException e) {
                    System.err.println(e.getMessage());
                    bad++;
                }
            }
            return bad == 0 ? 0 : 2;
        }
    }

    @Command(name = "explain", mixinStandardHelpOptions = true,
            description = {"Say what a policy would decide for a request, without sending it:",
                "the normalized path, allow or deny, the rule or default that decided,",
                "and for a deny the rules that came close and which conditions failed."})
    static final class Explain implements Callable<Integer> {
        @Option(names = "--policy", required = true, paramLabel = "FILE")
        Path policy;

        @Option(names = "--from", paramLabel = "SPIFFE_ID", description = "The caller (absent: unauthenticated).")
        String from;

        @Option(names = "--method", defaultValue = "GET", description = "Default: ${DEFAULT-VALUE}.")
        String method;

        @Option(names = "--path", required = true, description = "The request-target as sent, e.g. /orders/1?x=y.")
        String path;

        @Option(names = "--header", paramLabel = "NAME=VALUE", description = "A request header; repeatable.")
        Map<String, String> headers = new LinkedHashMap<>();

        @Option(names = "--token", paramLabel = "JWT", description = "A bearer token (without 'Bearer'), verified with the policy's issuers.")
        String token;

        @Option(names = "--json", description = "Print JSON instead of text.")
        boolean json;

        @Override
        public Integer call() throws Exception {
            PolicyEngine engine;
            dev.ward.authz.jwt.TokenVerifier tokens = null;
            try {
                Policy p = PolicyParser.load(policy);
                engine = PolicyEngine.compile(p);
                if (token != null) {
                    tokens = dev.ward.proxy.policy.PolicySource.verifierFor(p, policy.toString());
                    tokens.awaitKeys(java.time.Duration.ofSeconds(5));
                }
            } catch (PolicyException e) {
                System.err.println(e.getMessage());
                return 2;
            }
            try {
                var answer = Explainer.explain(engine, tokens, new Explainer.Question(from, method, path, headers, token));
                System.out.print(json ? answer.toPrettyString() + "\n" : Explainer.text(answer));
                return 0;
            } finally {
                if (tokens != null) {
                    tokens.close();
                }
            }
        }
    }
}
