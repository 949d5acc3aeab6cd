package dev.ward.proxy.http;

import io.netty.handler.codec.http.HttpResponseStatus;

/** What a router decided for one request: forward it to a backend, or answer it locally. */
public sealed interface Route {

    /** Forward to {@code backend}; {@code rule}, if not null, is the policy rule that allowed it (for logs). */
    record Forward(Backend backend, String rule) implements Route {
        public Forward(Backend backend) {
            this(backend, null);
        }
    }

    /** Answer with a local reply; the request goes nowhere. {@code headers} are added to it. */
    record Reply(HttpResponseStatus status, String reason, String message, java.util.Map<String, String> headers) implements Route {
        public Reply(HttpResponseStatus status, String reason, String message) {
            this(status, reason, message, java.util.Map.of());
        }
    }

    /** Picks the route for a request and rewrites its headers for the next hop. */
    @FunctionalInterface
    interface Router {
        Route route(io.netty.channel.Channel downstream, io.netty.handler.codec.http.HttpRequest request);

        /**
         * The same, telling {@code record} (the request's telemetry: trace id, authorization
         * decision) what it decided. {@code record} may be null.
         */
        default Route route(io.netty.channel.Channel downstream, io.netty.handler.codec.http.HttpRequest request,
                            dev.ward.telemetry.RequestRecord record) {
            return route(downstream, request);
        }
    }
}
