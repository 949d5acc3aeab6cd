package dev.ward.authz.path;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ward.authz.path.PathNormalizer.Result;
import dev.ward.authz.path.PathNormalizer.SlashAction;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PathNormalizerTest {

    private static String outcome(PathNormalizer n, String target) {
        Result r = n.normalize(target);
        return r instanceof Result.Normalized ok ? ok.target() : "!" + ((Result.Rejected) r).reason();
    }

    /** Target → normal form, or !reason when refused. Default settings (encoded slashes rejected). */
    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
        "/                              | /",
        "/orders                        | /orders",
        "/orders/                       | /orders/",
        "/orders/42                     | /orders/42",
        "/Orders/42                     | /Orders/42",
        "/orders?x=1&y=%2F              | /orders?x=1&y=%2F",
        "/orders?                       | /orders?",
        "//admin                        | /admin",
        "///a//b///c                    | /a/b/c",
        "/a/./b                         | /a/b",
        "/a/b/.                         | /a/b/",
        "/a/b/..                        | /a/",
        "/a/../b                        | /b",
        "/public/../admin               | /admin",
        "/public/%2e%2e/admin           | /admin",
        "/public/%2E%2E/admin           | /admin",
        "/public/.%2e/admin             | /admin",
        "/public/%2e/admin              | /public/admin",
        "/../admin                      | /admin",
        "/../../../../etc/passwd        | /etc/passwd",
        "/a/..//../b                    | /b",
        "/%61dmin                       | /admin",
        "/%7Euser                       | /~user",
        "/a%2db                         | /a-b",
        "/caf%c3%a9                     | /caf%C3%A9",
        "/a%20b                         | /a%20b",
        "/a%3bb                         | /a%3Bb",
        "/a%25b                         | /a%25b",
        "/a%3Fb                         | /a%3Fb",
        "/a/..%2f..%2fadmin             | !encoded_slash",
        "/admin%2f                      | !encoded_slash",
        "/admin%2F                      | !encoded_slash",
        "/admin%5c                      | !encoded_slash",
        "/admin\\x                      | !encoded_slash",
        "/admin;x                       | !matrix_parameter",
        "/admin;jsessionid=1            | !matrix_parameter",
        "/a%00b                         | !control_character",
        "/a%0ab                         | !control_character",
        "/a%7f                          | !control_character",
        "/a%zz                          | !bad_percent_encoding",
        "/a%2                           | !bad_percent_encoding",
        "/a b                           | !invalid_character",
        "/a#frag                        | !invalid_character",
        "/café                          | !invalid_character",
        "http://orders/admin            | !not_origin_form",
        "*                              | !not_origin_form",
        "admin                          | !not_origin_form",
    })
    void normalizesOrRejects(String target, String expected) {
        assertThat(outcome(PathNormalizer.ofDefaults(), target)).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0} -> {1} / {2}")
    @CsvSource(delimiter = '|', value = {
        "/a%2fb       | /a%2Fb   | /a/b",
        "/a%2F..%2Fb  | /a%2F..%2Fb | /b",
        "/a\\b        | /a%5Cb   | /a/b",
        "/a%5c%5cb    | /a%5C%5Cb | /a/b",
    })
    void encodedSlashesCanBeKeptOrDecodedWhenConfigured(String target, String kept, String decoded) {
        assertThat(outcome(new PathNormalizer(SlashAction.KEEP), target)).isEqualTo(kept);
        assertThat(outcome(new PathNormalizer(SlashAction.DECODE), target)).isEqualTo(decoded);
    }

    @ParameterizedTest
    @CsvSource({"/a/b", "/a/./b/../c", "//x//y/", "/%7e/%41"})
    void normalizingTwiceChangesNothing(String target) {
        String once = outcome(PathNormalizer.ofDefaults(), target);
        assertThat(outcome(PathNormalizer.ofDefaults(), once)).isEqualTo(once);
    }

    /**
     * A path {@link PathNormalizer#canonical} lets through untouched is exactly what every step
     * would have made of it: for 200,000 paths built from the characters and pieces that matter
     * (dots, slashes, escapes, refused characters), under each slash setting, the fast answer and
     * the full one agree, and the fast one is taken only when the full one returns the path as it is.
     */
    @org.junit.jupiter.api.Test
    void theCanonicalFastPathAgreesWithEveryStep() {
        String[] pieces = {"/", "/", "/", "a", "b", "42", ".", "..", "...", ".a", "a.", "%2e", "%2F", "%41", "%", "\\", ";", " ",
                "#", "~", "-", "_", "\u00e9", "\u0001", "\u007f", "^", "|", "{", "\"", "<", "`", "?", "=", "&"};
        java.util.Random rnd = new java.util.Random(42);
        int fast = 0;
        for (SlashAction action : SlashAction.values()) {
            PathNormalizer n = new PathNormalizer(action);
            for (int k = 0; k < 200_000 / SlashAction.values().length; k++) {
                StringBuilder sb = new StringBuilder("/");
                for (int len = rnd.nextInt(8); len > 0; len--) {
                    sb.append(pieces[rnd.nextInt(pieces.length)]);
                }
                String target = sb.toString();
                int q = target.indexOf('?');
                String path = q < 0 ? target : target.substring(0, q);
                String query = q < 0 ? null : target.substring(q + 1);
                Result full = n.normalizePath(path, query);
                if (query != null && query.chars().anyMatch(c -> c <= 0x20 || c >= 0x7f || c == '#')) {
                    continue; // refused for its query before either path step runs
                }
                if (PathNormalizer.canonical(path)) {
                    fast++;
                    assertThat(full).as(target).isEqualTo(new Result.Normalized(path, query));
                }
                assertThat(n.normalize(target)).as(target).isEqualTo(full);
            }
        }
        assertThat(fast).as("paths that took the fast path").isGreaterThan(10_000);
    }
}
