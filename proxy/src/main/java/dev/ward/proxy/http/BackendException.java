package dev.ward.proxy.http;

import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * A backend (the local app, or an upstream sidecar) could not take a request. Carries the status
 * and reason code of the local reply, and a message safe to show the caller.
 */
public final class BackendException extends Exception {

    private final HttpResponseStatus status;
    private final String reason;

    public BackendException(HttpResponseStatus status, String reason, String message, Throwable cause) {
        super(message, cause, false, false);
        this.status = status;
        this.reason = reason;
    }

    public HttpResponseStatus status() {
        return status;
    }

    public String reason() {
        return reason;
    }
}
