package dev.ward.proxy.config;

import java.util.List;

/** A config file was refused; {@link #problems()} lists every problem, each located by its path. */
public final class ConfigException extends Exception {

    private final List<String> problems;

    public ConfigException(String source, List<String> problems) {
        super(source + ": invalid config:\n  - " + String.join("\n  - ", problems));
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
        return problems;
    }
}
