package dev.ward.authz.policy;

import java.util.List;

/** A policy document was refused; {@link #problems()} lists every problem, each located. */
public final class PolicyException extends Exception {

    private final List<String> problems;

    public PolicyException(String source, List<String> problems) {
        super(source + ": invalid policy:\n  - " + String.join("\n  - ", problems));
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
        return problems;
    }
}
