package dev.ward.proxy.http;

/**
 * One request's admission to a protected backend (its circuit breaker's permit and its bulkhead
 * slot), held across the request's tries and given back exactly once: by {@link #end} with the
 * outcome the caller finally got, or by {@link #cancel} when the outcome says nothing about the
 * backend (the caller went away).
 */
public interface Admission {

    /**
     * The request ended: {@code status} is the response status relayed (0: none),
     * {@code failure} how the last try failed ({@code connect}, {@code tls}, {@code identity},
     * {@code timeout}, {@code reset}; null: it did not), {@code firstByteNanos} the
     * {@link System#nanoTime()} when the response headers came (0: never).
     */
    void end(int status, String failure, long firstByteNanos);

    void cancel();
}
