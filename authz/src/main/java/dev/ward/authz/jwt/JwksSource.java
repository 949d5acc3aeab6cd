package dev.ward.authz.jwt;

import com.nimbusds.jose.jwk.JWKSet;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * An issuer's public keys. {@link #current()} is cheap and never blocks on I/O for long; a
 * source that cannot refresh keeps its last good key set and reports the error in
 * {@link #health()} (tokens are never refused because a refresh failed).
 */
public interface JwksSource {

    /** The key set in force; an empty set until keys were loaded once. */
    JWKSet current();

    /** {@link #current()} when the caller has just read the clock ({@code nowMillis}, epoch ms): a source that looks at time on use need not read it again. */
    default JWKSet current(long nowMillis) {
        return current();
    }

    /** Freshness and errors, for the admin port and {@code /readyz}. */
    Health health();

    /**
     * A token named a key this source does not have: the issuer may have rotated. A source that
     * can fetch starts one refresh in the background, at most once per its minimum interval.
     * Never blocks.
     */
    default void unknownKey(String kid) {
    }

    /** Stops background work (fetchers); the source keeps answering {@link #current()}. */
    default void close() {
    }

    /** @param lastSuccess null if keys were never loaded */
    record Health(String source, Instant lastSuccess, List<String> keyIds, String lastError) {
        public boolean everLoaded() {
            return lastSuccess != null;
        }
    }

    /**
     * Keys from an HTTPS URL, fetched in the background at start, every {@code refreshEvery},
     * and once when a token names an unknown key (at most once per {@code minInterval}). A
     * failed fetch keeps the last good keys and is reported in {@link #health()}; redirects are
     * not followed; the body is limited to 1 MiB; only public keys are kept. Uses the JDK's
     * HTTP client (no Netty here) on its own daemon threads, never an event loop.
     */
    final class FromUrl implements JwksSource {
        private static final int MAX_BODY = 1 << 20;
        private final java.net.URI url;
        private final Clock clock;
        private final Duration minInterval;
        private final java.net.http.HttpClient http;
        private final java.util.concurrent.ScheduledExecutorService scheduler;
        private final java.util.concurrent.atomic.AtomicBoolean fetching = new java.util.concurrent.atomic.AtomicBoolean();
        private volatile JWKSet keys = new JWKSet();
        private volatile Instant lastSuccess;
        private volatile Instant lastAttempt = Instant.EPOCH;
        private volatile String lastError;

        public FromUrl(java.net.URI url, javax.net.ssl.SSLContext tls, Clock clock, Duration refreshEvery, Duration minInterval) {
            this.url = url;
            this.clock = clock;
            this.minInterval = minInterval;
            java.net.http.HttpClient.Builder b = java.net.http.HttpClient.newBuilder()
                    .connectTimeout(Duration.ofSeconds(5)).followRedirects(java.net.http.HttpClient.Redirect.NEVER);
            if (tls != null) {
                b.sslContext(tls);
            }
            this.http = b.build();
            this.scheduler = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "ward-jwks-" + url.getHost());
                t.setDaemon(true);
                return t;
            });
            scheduler.execute(this::fetch);
            scheduler.scheduleWithFixedDelay(this::fetch, refreshEvery.toMillis(), refreshEvery.toMillis(),
                    java.util.concurrent.TimeUnit.MILLISECONDS);
        }

        /** A TLS context trusting the CA certificates in a PEM file, for a key server with a private CA. */
        public static javax.net.ssl.SSLContext trusting(Path caPem) throws IOException {
            try (var in = Files.newInputStream(caPem)) {
                java.security.KeyStore ks = java.security.KeyStore.getInstance(java.security.KeyStore.getDefaultType());
                ks.load(null, null);
                int i = 0;
                for (var c : java.security.cert.CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                    ks.setCertificateEntry("ca" + i++, c);
                }
                if (i == 0) {
                    throw new IOException(caPem + ": no PEM certificate found");
                }
                javax.net.ssl.TrustManagerFactory tmf = javax.net.ssl.TrustManagerFactory.getInstance(
                        javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(ks);
                javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
                ctx.init(null, tmf.getTrustManagers(), null);
                return ctx;
            } catch (java.security.GeneralSecurityException e) {
                throw new IOException(caPem + ": " + e.getMessage(), e);
            }
        }

        private void fetch() {
            if (!fetching.compareAndSet(false, true)) {
                return;
            }
            lastAttempt = clock.instant();
            try {
                var req = java.net.http.HttpRequest.newBuilder(url).timeout(Duration.ofSeconds(10))
                        .header("Accept", "application/json").GET().build();
                var resp = http.send(req, java.net.http.HttpResponse.BodyHandlers.ofInputStream());
                byte[] body;
                try (var in = resp.body()) {
                    body = in.readNBytes(MAX_BODY + 1);
                }
                if (resp.statusCode() != 200) {
                    lastError = url + ": HTTP " + resp.statusCode();
                } else if (body.length > MAX_BODY) {
                    lastError = url + ": key set larger than " + MAX_BODY + " bytes";
                } else {
                    keys = JWKSet.parse(new String(body, java.nio.charset.StandardCharsets.UTF_8)).toPublicJWKSet();
                    lastSuccess = clock.instant();
                    lastError = null;
                }
            } catch (IOException | ParseException e) {
                lastError = url + ": " + e.getMessage();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                fetching.set(false);
            }
        }

        @Override
        public JWKSet current() {
            return keys;
        }

        @Override
        public void unknownKey(String kid) {
            if (!clock.instant().isBefore(lastAttempt.plus(minInterval)) && !scheduler.isShutdown()) {
                lastAttempt = clock.instant(); // rate limit starts now, not when the fetch finishes
                scheduler.execute(this::fetch);
            }
        }

        @Override
        public Health health() {
            return new Health(url.toString(), lastSuccess, keys.getKeys().stream().map(k -> String.valueOf(k.getKeyID())).toList(),
                    lastError);
        }

        @Override
        public void close() {
            scheduler.shutdownNow();
        }
    }

    /**
     * Keys from a JWKS file, re-read when its modification time or size changes (checked at most
     * every {@code checkEvery}, on use). A file that does not parse leaves the old keys in force.
     * Private key material in the file is refused: only public keys are kept.
     */
    final class FromFile implements JwksSource {
        private final Path file;
        private final Clock clock;
        private final long checkEveryMillis;
        private volatile JWKSet keys = new JWKSet();
        private volatile Instant lastSuccess;
        private volatile String lastError;
        /** Epoch ms: asked for after this, the file is looked at again (as a long: every cached token's check reads it). */
        private volatile long nextCheck = Long.MIN_VALUE;
        private volatile FileTime seenTime;
        private volatile long seenSize = -1;

        public FromFile(Path file, Clock clock, Duration checkEvery) {
            this.file = file;
            this.clock = clock;
            this.checkEveryMillis = checkEvery.toMillis();
            reload();
        }

        @Override
        public JWKSet current() {
            return current(clock.millis());
        }

        @Override
        public JWKSet current(long now) {
            if (now >= nextCheck) {
                synchronized (this) {
                    if (now >= nextCheck) {
                        nextCheck = now + checkEveryMillis;
                        reload();
                    }
                }
            }
            return keys;
        }

        private void reload() {
            try {
                FileTime t = Files.getLastModifiedTime(file);
                long size = Files.size(file);
                if (t.equals(seenTime) && size == seenSize) {
                    return;
                }
                JWKSet parsed = JWKSet.parse(Files.readString(file));
                seenTime = t;
                seenSize = size;
                keys = parsed.toPublicJWKSet();
                lastSuccess = clock.instant();
                lastError = null;
            } catch (IOException | ParseException e) {
                lastError = file + ": " + e.getMessage();
            }
        }

        @Override
        public Health health() {
            return new Health(file.toString(), lastSuccess, keys.getKeys().stream().map(k -> String.valueOf(k.getKeyID())).toList(),
                    lastError);
        }
    }
}
