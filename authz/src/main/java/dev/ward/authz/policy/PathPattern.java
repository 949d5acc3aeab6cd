package dev.ward.authz.policy;

import java.util.List;

/**
 * A path condition: exact ({@code /orders}), prefix ({@code /orders/*}: {@code /orders/} and
 * everything below it, not {@code /orders} itself), or with single-segment wildcards
 * ({@code /orders/* /items}: exactly one non-empty segment). {@code /*} matches every path. No
 * regular expressions. Matched against normalized paths, case-sensitively.
 */
public record PathPattern(String text, List<String> segments, boolean prefix) {

    /**
     * Parses a pattern.
     *
     * @throws IllegalArgumentException with what is wrong, e.g. {@code must start with "/"}
     */
    public static PathPattern parse(String text) {
        if (text == null || text.isEmpty() || text.charAt(0) != '/') {
            throw new IllegalArgumentException("must start with \"/\"");
        }
        if (text.contains("?") || text.contains("#")) {
            throw new IllegalArgumentException("must be a path without query or fragment");
        }
        if (text.contains("//") || text.contains(";") || text.contains("\\")) {
            throw new IllegalArgumentException("must be a normalized path (no '//', ';' or '\\\\')");
        }
        List<String> segs = List.of(text.substring(1).split("/", -1));
        boolean prefix = false;
        for (int i = 0; i < segs.size(); i++) {
            String s = segs.get(i);
            if (s.equals(".") || s.equals("..")) {
                throw new IllegalArgumentException("must not contain '.' or '..' segments");
            }
            if (s.contains("*") && !s.equals("*")) {
                throw new IllegalArgumentException("'*' must be a whole segment (\"/a/*/b\" or \"/a/*\"), not part of one");
            }
        }
        if (segs.get(segs.size() - 1).equals("*")) {
            prefix = true;
            segs = segs.subList(0, segs.size() - 1);
        }
        return new PathPattern(text, List.copyOf(segs), prefix);
    }

    @Override
    public String toString() {
        return text;
    }
}
