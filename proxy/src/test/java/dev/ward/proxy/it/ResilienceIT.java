package dev.ward.proxy.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ward.proxy.Sidecar;
import dev.ward.proxy.testing.Await;
import dev.ward.proxy.testing.Clients;
import dev.ward.proxy.testing.FaultyUpstream;
import dev.ward.proxy.testing.FaultyUpstream.Mode;
import dev.ward.proxy.testing.Sidecars;
import dev.ward.proxy.testing.TestPki;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Outbound resilience against real failing servers: an app calls an upstream through a Ward
 * sidecar; the upstream is a real mTLS server that refuses, hangs, resets, is slow, or answers 503.
 */
class ResilienceIT {

    @TempDir
    Path tmp;

    TestPki pki;
    Path clientCerts;
    Path ordersCerts;
    final List<AutoCloseable> open = new ArrayList<>();
    final HttpClient app = Clients.plain();
    Sidecar sidecar;

    @BeforeEach
    void setUp() {
        pki = new TestPki(tmp);
        clientCerts = pki.issue("client");
        ordersCerts = pki.issue("orders");
    }

    @AfterEach
    void tearDown() throws Exception {
        if (sidecar != null) {
            sidecar.close();
        }
        for (AutoCloseable c : open) {
            c.close();
        }
    }

    FaultyUpstream upstream() throws Exception {
        FaultyUpstream u = new FaultyUpstream(ordersCerts);
        open.add(u);
        return u;
    }

    /** A sidecar whose upstream {@code orders} is at {@code where} (an address: or endpoints: line) with more settings. */
    Sidecar sidecar(String where, String settings) throws Exception {
        sidecar = Sidecars.start(Sidecars.identity(clientCerts) + """
                inbound: { enabled: false }
                outbound:
                  listen: 127.0.0.1:0
                  upstreams:
                    orders:
                      %s
                      identity: %s
                      listen: 127.0.0.1:0
                %s
                """.formatted(where, TestPki.id("orders"), indent(settings)));
        return sidecar;
    }

    private static String indent(String yaml) {
        StringBuilder sb = new StringBuilder();
        for (String l : yaml.strip().split("\n")) {
            sb.append("      ").append(l).append('\n');
        }
        return sb.toString();
    }

    static String at(FaultyUpstream u) {
        return "address: 127.0.0.1:" + u.port();
    }

    HttpResponse<String> call(String method, String path, String body) throws Exception {
        return call(method, path, body, null);
    }

    HttpResponse<String> call(String method, String path, String body, String id) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sidecar.port("upstream:orders") + path))
                .timeout(Duration.ofSeconds(20))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (id != null) {
            b.header("x-request-id", id);
        }
        return app.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Makes {@code n} calls that must all be answered {@code status}, with {@code reason} if not null (Ward's own reply). */
    void callsAnswer(int n, int status, String reason) throws Exception {
        for (int i = 0; i < n; i++) {
            HttpResponse<String> r = call("GET", "/a", null);
            assertThat(r.statusCode()).isEqualTo(status);
            if (reason != null) {
                assertThat(r.headers().firstValue("x-ward-reason")).hasValue(reason);
            }
        }
    }

    JsonNode upstreamState() throws Exception {
        HttpResponse<String> r = app.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + sidecar.port("admin") + "/upstreams/orders")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        return new ObjectMapper().readTree(r.body());
    }

    static final String SMALL_BREAKER = """
            circuitBreaker: { minimumCalls: 4, slidingWindowSize: 4, failureRateThreshold: 50, openFor: 1s, halfOpenCalls: 1 }
            retry: { attempts: 0 }
            """;

    @Test
    void breakerOpensAfterTheThresholdAndThenNothingReachesTheUpstream() throws Exception {
        FaultyUpstream u = upstream().mode(Mode.RESET); // every request: a new connection, then RST
        sidecar(at(u), SMALL_BREAKER);
        callsAnswer(4, 502, "upstream_reset");
        assertThat(upstreamState().at("/circuit/state").asText()).isEqualTo("open");
        int accepts = u.accepts.get();
        int requests = u.requests.get();
        for (int i = 0; i < 5; i++) {
            HttpResponse<String> r = call("GET", "/a", null);
            assertThat(r.statusCode()).isEqualTo(503);
            assertThat(r.headers().firstValue("x-ward-circuit")).hasValue("open");
            assertThat(r.headers().firstValue("x-ward-reason")).hasValue("circuit_open");
            assertThat(r.body()).contains("\"error\":\"circuit_open\"").contains("orders");
        }
        assertThat(u.accepts.get()).as("no connection attempted while open").isEqualTo(accepts);
        assertThat(u.requests.get()).isEqualTo(requests);
        assertThat(upstreamState().at("/rejected/circuitOpen").asLong()).isEqualTo(5);
    }

    @Test
    void halfOpenProbeThatSucceedsClosesTheBreaker() throws Exception {
        FaultyUpstream u = upstream().status(503);
        sidecar(at(u), SMALL_BREAKER);
        callsAnswer(4, 503, null); // relayed: the upstream's own 503
        assertThat(call("GET", "/a", null).headers().firstValue("x-ward-circuit")).hasValue("open");
        u.mode(Mode.OK);
        Thread.sleep(1100); // openFor
        HttpResponse<String> probe = call("GET", "/probe", null);
        assertThat(probe.statusCode()).isEqualTo(200);
        assertThat(probe.body()).startsWith("GET /probe");
        assertThat(upstreamState().at("/circuit/state").asText()).isEqualTo("closed");
        assertThat(call("GET", "/b", null).statusCode()).isEqualTo(200);
    }

    @Test
    void halfOpenProbeThatFailsOpensTheBreakerAgain() throws Exception {
        FaultyUpstream u = upstream().status(503);
        sidecar(at(u), SMALL_BREAKER);
        callsAnswer(4, 503, null);
        assertThat(upstreamState().at("/circuit/state").asText()).isEqualTo("open");
        Thread.sleep(1100);
        int before = u.requests.get();
        assertThat(call("GET", "/probe", null).statusCode()).isEqualTo(503);
        assertThat(u.requests.get()).as("the probe reached the upstream").isEqualTo(before + 1);
        assertThat(upstreamState().at("/circuit/state").asText()).isEqualTo("open");
        HttpResponse<String> r = call("GET", "/a", null);
        assertThat(r.headers().firstValue("x-ward-circuit")).hasValue("open");
        assertThat(u.requests.get()).isEqualTo(before + 1);
    }

    @Test
    void refusedConnectionsCountAsFailures() throws Exception {
        FaultyUpstream u = upstream();
        u.refuse();
        sidecar(at(u), SMALL_BREAKER);
        callsAnswer(4, 502, "upstream_unavailable");
        assertThat(call("GET", "/a", null).statusCode()).isEqualTo(503);
        u.listen();
        Thread.sleep(1100);
        assertThat(call("GET", "/a", null).statusCode()).isEqualTo(200);
    }

    @Test
    void aFourHundredIsASuccessForTheBreaker() throws Exception {
        FaultyUpstream u = upstream().status(404);
        sidecar(at(u), SMALL_BREAKER);
        callsAnswer(8, 404, null);
        JsonNode s = upstreamState();
        assertThat(s.at("/circuit/state").asText()).isEqualTo("closed");
        assertThat(s.at("/circuit/failedCalls").asInt()).isZero();
    }

    @Test
    void aHangingUpstreamTimesOutWith504AndCountsAgainstTheBreaker() throws Exception {
        FaultyUpstream u = upstream().mode(Mode.HANG);
        sidecar(at(u), "timeouts: { firstByte: 300ms }\n" + SMALL_BREAKER);
        long t0 = System.nanoTime();
        HttpResponse<String> r = call("GET", "/a", null);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertThat(r.statusCode()).isEqualTo(504);
        assertThat(r.headers().firstValue("x-ward-reason")).hasValue("upstream_timeout");
        assertThat(r.body()).contains("300ms");
        assertThat(ms).isBetween(250L, 5_000L);
        JsonNode s = upstreamState();
        assertThat(s.at("/circuit/failedCalls").asInt()).isEqualTo(1);
        assertThat(s.at("/timeouts").asInt()).isEqualTo(1);
        assertThat(s.at("/inFlight").asInt()).isZero();
    }

    @Test
    void theTotalTimeoutCoversRetriesAndSlowAnswers() throws Exception {
        FaultyUpstream u = upstream().script(Mode.RESET).slow(3_000); // the first try resets, the retry is slow
        sidecar(at(u), "timeouts: { firstByte: 10s, total: 400ms }\nretry: { attempts: 2, backoff: 10ms }\n");
        long t0 = System.nanoTime();
        HttpResponse<String> r = call("GET", "/a", null);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertThat(r.statusCode()).isEqualTo(504);
        assertThat(r.body()).contains("400ms");
        assertThat(ms).isBetween(350L, 2_900L);
        assertThat(u.requests.get()).as("the retry ran inside the same total").isEqualTo(2);
    }

    @Test
    void aResetGetIsRetriedAndRecovers() throws Exception {
        FaultyUpstream u = upstream().script(Mode.RESET);
        sidecar(at(u), "retry: { attempts: 2, backoff: 10ms }\n");
        HttpResponse<String> r = call("GET", "/a", null);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(u.requests.get()).isEqualTo(2);
        assertThat(upstreamState().at("/retries").asInt()).isEqualTo(1);
    }

    @Test
    void a503IsRetriedAndASmallPutBodyIsSentAgainIntact() throws Exception {
        FaultyUpstream u = upstream().script(Mode.STATUS, Mode.RESET);
        sidecar(at(u), "retry: { attempts: 2, backoff: 10ms }\n");
        String body = "x".repeat(5000);
        HttpResponse<String> r = call("PUT", "/doc", body);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).startsWith("PUT /doc 5000 ");
        assertThat(u.requests.get()).isEqualTo(3);
    }

    @Test
    void aPostIsNeverRetried() throws Exception {
        FaultyUpstream u = upstream().script(Mode.RESET);
        sidecar(at(u), "retry: { attempts: 3, backoff: 10ms }\n");
        HttpResponse<String> r = call("POST", "/orders", "{\"qty\":1}", "p1");
        assertThat(r.statusCode()).isEqualTo(502);
        assertThat(u.requests.get()).isEqualTo(1);
        u.script(Mode.STATUS);
        assertThat(call("POST", "/orders", "{\"qty\":1}", "p2").statusCode()).isEqualTo(503);
        assertThat(u.requests.get()).isEqualTo(2);
    }

    @Test
    void aBodyLargerThanTheBufferIsNotRetried() throws Exception {
        FaultyUpstream u = upstream().script(Mode.RESET);
        sidecar(at(u), "retry: { attempts: 2, backoff: 10ms, maxBufferedBody: 1000 }\n");
        assertThat(call("PUT", "/doc", "y".repeat(2000)).statusCode()).isEqualTo(502);
        assertThat(u.requests.get()).isEqualTo(1);
    }

    @Test
    void theRetryBudgetCapsRetriesWhenEverythingFails() throws Exception {
        FaultyUpstream u = upstream().status(503);
        sidecar(at(u), """
                circuitBreaker: { enabled: false }
                retry: { attempts: 3, backoff: 1ms, maxBackoff: 2ms, budget: { ratio: 0.2, minPerSecond: 1, window: 10s } }
                """);
        int n = 100;
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            all.add(app.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sidecar.port("upstream:orders") + "/x"))
                    .build(), HttpResponse.BodyHandlers.ofString()));
            if (i % 10 == 9) {
                CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).join();
            }
        }
        for (var f : all) {
            assertThat(f.join().statusCode()).isEqualTo(503);
        }
        // Without a budget: 100 × (1 + 3) = 400. With it: 100 + 20% of 100 + 10 (1/s over 10 s).
        assertThat(u.requests.get()).isBetween(n + 1, n + 20 + 10 + 2);
        JsonNode s = upstreamState();
        assertThat(s.at("/retriesDenied").asInt()).isPositive();
        assertThat(s.at("/circuit/state").asText()).isEqualTo("disabled");
    }

    @Test
    void theBulkheadAnswers503OverloadedBeyondItsLimits() throws Exception {
        FaultyUpstream u = upstream().slow(600);
        sidecar(at(u), "bulkhead: { maxConcurrent: 1, maxPending: 1 }\n");
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            all.add(app.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sidecar.port("upstream:orders") + "/x"))
                    .build(), HttpResponse.BodyHandlers.ofString()));
            Thread.sleep(100);
        }
        int ok = 0;
        int overloaded = 0;
        for (var f : all) {
            HttpResponse<String> r = f.join();
            if (r.statusCode() == 200) {
                ok++;
            } else {
                assertThat(r.statusCode()).isEqualTo(503);
                assertThat(r.headers().firstValue("x-ward-overloaded")).hasValue("true");
                overloaded++;
            }
        }
        assertThat(ok).isEqualTo(2);
        assertThat(overloaded).isEqualTo(1);
        assertThat(u.requests.get()).isEqualTo(2);
        assertThat(upstreamState().at("/rejected/overloaded").asInt()).isEqualTo(1);
    }

    @Test
    void loadBalancingMovesTrafficAwayFromASlowEndpoint() throws Exception {
        FaultyUpstream slow = upstream().slow(300);
        FaultyUpstream fast = upstream();
        sidecar("endpoints: [127.0.0.1:" + slow.port() + ", 127.0.0.1:" + fast.port() + "]", "");
        AtomicInteger done = new AtomicInteger();
        List<CompletableFuture<Void>> workers = new ArrayList<>();
        for (int w = 0; w < 8; w++) {
            workers.add(CompletableFuture.runAsync(() -> {
                try {
                    for (int i = 0; i < 10; i++) {
                        assertThat(call("GET", "/x", null).statusCode()).isEqualTo(200);
                        done.incrementAndGet();
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }));
        }
        CompletableFuture.allOf(workers.toArray(CompletableFuture[]::new)).join();
        assertThat(done.get()).isEqualTo(80);
        assertThat(fast.requests.get()).as("fast %d, slow %d", fast.requests.get(), slow.requests.get())
                .isGreaterThan(2 * slow.requests.get()); // an even split would be 1:1
        assertThat(upstreamState().at("/endpoints").size()).isEqualTo(2);
    }

    @Test
    void aFailingEndpointIsEjectedAndReturnsAfterItRecovers() throws Exception {
        FaultyUpstream bad = upstream().status(503);
        FaultyUpstream good = upstream();
        sidecar("endpoints: [127.0.0.1:" + bad.port() + ", 127.0.0.1:" + good.port() + "]", """
                circuitBreaker: { minimumCalls: 3, slidingWindowSize: 3, openFor: 4s, halfOpenCalls: 1 }
                retry: { attempts: 2, backoff: 1ms }
                """);
        // Each first try picks either endpoint at random (both idle): call until the bad one has
        // failed the 3 calls its breaker needs (a fixed 12 calls gave it fewer 2% of the time).
        for (int i = 0; i < 100 && bad.requests.get() < 3; i++) {
            assertThat(call("GET", "/x", null).statusCode()).as("retried on the good endpoint").isEqualTo(200);
        }
        JsonNode s = upstreamState();
        JsonNode badState = s.at("/endpoints/0");
        assertThat(badState.at("/address").asText()).endsWith(":" + bad.port());
        assertThat(badState.at("/circuit/state").asText()).isEqualTo("open");
        assertThat(s.at("/circuit/state").asText()).as("the upstream as a whole stays closed").isEqualTo("closed");
        int badBefore = bad.requests.get();
        for (int i = 0; i < 10; i++) {
            call("GET", "/x", null);
        }
        assertThat(bad.requests.get()).as("ejected: skipped").isEqualTo(badBefore);
        bad.mode(Mode.OK);
        Thread.sleep(4100);
        for (int i = 0; i < 20; i++) {
            assertThat(call("GET", "/x", null).statusCode()).isEqualTo(200);
        }
        assertThat(bad.requests.get()).as("back in rotation").isGreaterThan(badBefore + 1);
        assertThat(upstreamState().at("/endpoints/0/circuit/state").asText()).isEqualTo("closed");
    }

    @Test
    void everyRequestGetsExactlyOneResponseAndNoPostIsDuplicated() throws Exception {
        FaultyUpstream u = upstream();
        sidecar(at(u), """
                timeouts: { firstByte: 500ms }
                circuitBreaker: { enabled: false }
                retry: { attempts: 2, backoff: 1ms, on: [connect, reset, timeout, 503] }
                """);
        Mode[] modes = {Mode.OK, Mode.RESET, Mode.STATUS, Mode.HANG, Mode.OK, Mode.SLOW};
        java.util.Random rnd = new java.util.Random(7);
        for (int i = 0; i < 60; i++) {
            u.script(modes[rnd.nextInt(modes.length)]);
        }
        u.slow(50);
        u.mode(Mode.OK);
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            String method = i % 2 == 0 ? "GET" : "POST";
            all.add(app.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sidecar.port("upstream:orders") + "/r"))
                    .header("x-request-id", "r" + i)
                    .method(method, method.equals("GET") ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString("b" + i))
                    .build(), HttpResponse.BodyHandlers.ofString()));
        }
        int answered = 0;
        for (var f : all) {
            HttpResponse<String> r = f.join();
            assertThat(r.statusCode()).isIn(200, 502, 503, 504);
            answered++;
        }
        assertThat(answered).isEqualTo(40);
        u.ids.forEach((k, v) -> {
            if (k.startsWith("POST ")) {
                assertThat(v.get()).as("%s reached the upstream once", k).isEqualTo(1);
            }
        });
        Await.until(() -> sidecar.inFlight() == 0);
        assertThat(upstreamState().at("/inFlight").asInt()).isZero();
    }

    @Test
    void unknownUpstreamOnTheAdminPortIs404() throws Exception {
        FaultyUpstream u = upstream();
        sidecar(at(u), "");
        HttpResponse<String> r = app.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + sidecar.port("admin") + "/upstreams/ordrs")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(404);
        assertThat(r.body()).contains("no upstream named 'ordrs'");
        HttpResponse<String> all = app.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + sidecar.port("admin") + "/upstreams")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(new ObjectMapper().readTree(all.body()).at("/upstreams/0/name").asText()).isEqualTo("orders");
    }

    @Test
    void overHttp2BetweenSidecarsTimeoutsResetOnlyTheStreamAndRetriesAndTheBreakerWork() throws Exception {
        dev.ward.proxy.testing.TestApp orders = new dev.ward.proxy.testing.TestApp();
        open.add(orders);
        Sidecar inbound = Sidecars.inbound(ordersCerts, orders.port(), "", TestPki.id("client"));
        open.add(inbound);
        sidecar("address: 127.0.0.1:" + inbound.port("inbound"), """
                protocol: h2
                timeouts: { firstByte: 400ms }
                circuitBreaker: { minimumCalls: 3, slidingWindowSize: 3, openFor: 30s }
                retry: { attempts: 2, backoff: 1ms }
                """);
        assertThat(call("GET", "/echo", null).statusCode()).isEqualTo(200);
        HttpResponse<String> slow = call("GET", "/slow?ms=1500", null);
        assertThat(slow.statusCode()).isEqualTo(504);
        assertThat(call("GET", "/echo", null).statusCode()).as("the h2 connection outlives the reset stream").isEqualTo(200);
        assertThat(inbound.openConnections("inbound")).isEqualTo(1);

        int before = orders.requests.get();
        HttpResponse<String> r = call("GET", "/status?code=503", null);
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(orders.requests.get() - before).as("first try and two retries").isEqualTo(3);
        call("GET", "/status?code=503", null);
        assertThat(upstreamState().at("/circuit/state").asText()).isEqualTo("open");
        int seen = orders.requests.get();
        assertThat(call("GET", "/echo", null).headers().firstValue("x-ward-circuit")).hasValue("open");
        assertThat(orders.requests.get()).isEqualTo(seen);
    }
}
