package dev.ward.proxy.http;

import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * A backend (the local app, or an upstream sidecar) could not take a request. Carries the status
 * and reason code of the local reply, and a message safe to show the caller.
 */
public final class BackendException extends Exception {

    private final HttpResponseStatus status;
    private final String reason;
    private final String failure;
    private final java.util.Map<String, String> headers;

    public BackendException(HttpResponseStatus status, String reason, String message, Throwable cause) {
        this(status, reason, message, cause, null, java.util.Map.of());
    }

    /**
     * {@code failure}: how the try failed, for circuit breakers and retries ({@code connect},
     * {@code tls}, {@code identity}; null: not a failure of the backend, e.g. its circuit is open);
     * {@code headers}: added to the local reply.
     */
    public BackendException(HttpResponseStatus status, String reason, String message, Throwable cause, String failure,
                            java.util.Map<String, String> headers) {
        super(message, cause, false, false);
        this.status = status;
        this.reason = reason;
        this.failure = failure;
        this.headers = headers;
    }

    public String failure() {
        return failure;
    }

    public java.util.Map<String, String> headers() {
        return headers;
    }

    public HttpResponseStatus status() {
        return status;
    }

    public String reason() {
        return reason;
    }
}
