package dev.ward.telemetry.tracing;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PathTemplateTest {

    @ParameterizedTest
    @CsvSource({
            "/, /",
            "/orders, /orders",
            "/orders/, /orders/",
            "/orders/42, /orders/{id}",
            "/orders/42/items/7, /orders/{id}/items/{id}",
            "/users/9f1c3e0a-6b1d-4c2e-8f00-0123456789ab, /users/{id}",
            "/blobs/0123456789abcdef0123, /blobs/{id}",
            "/tokens/aZ3kQ9xL0pR7tV2mN8, /tokens/{id}",
            "/api/v2/health, /api/v2/health",
            "/a/b/c/d/e/f/g/h/i/j, /a/b/c/d/e/f/g/h/...",
            "/search?q=1, /search",
            "'', /",
            "http://host/x, /"})
    void identifiersBecomePlaceholders(String path, String template) {
        assertThat(PathTemplate.of(path)).isEqualTo(template);
    }
}
