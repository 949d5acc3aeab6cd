package dev.ward.proxy.upstream;

import dev.ward.proxy.http.ConnectionPool;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One address of an upstream: its own connection pool, its own circuit breaker (open: the
 * endpoint is ejected, skipped while others are healthy) and its count of tries in flight, which
 * the load balancer compares.
 */
final class Endpoint {

    final InetSocketAddress address;
    final String key;
    final ConnectionPool pool;
    final WatchedBreaker breaker;
    final AtomicInteger inFlight = new AtomicInteger();

    Endpoint(InetSocketAddress address, ConnectionPool pool, WatchedBreaker breaker) {
        this.address = address;
        this.key = keyOf(address);
        this.pool = pool;
        this.breaker = breaker;
    }

    static String keyOf(InetSocketAddress a) {
        String ip = a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString();
        return (ip.contains(":") ? "[" + ip + "]" : ip) + ":" + a.getPort();
    }

    @Override
    public String toString() {
        return key;
    }
}
