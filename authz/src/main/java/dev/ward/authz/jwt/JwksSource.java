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

    /** Freshness and errors, for the admin port and {@code /readyz}. */
    Health health();

    /** @param lastSuccess null if keys were never loaded */
    record Health(String source, Instant lastSuccess, List<String> keyIds, String lastError) {
        public boolean everLoaded() {
            return lastSuccess != null;
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
        private final Duration checkEvery;
        private volatile JWKSet keys = new JWKSet();
        private volatile Instant lastSuccess;
        private volatile String lastError;
        private volatile Instant lastCheck = Instant.EPOCH;
        private volatile FileTime seenTime;
        private volatile long seenSize = -1;

        public FromFile(Path file, Clock clock, Duration checkEvery) {
            this.file = file;
            this.clock = clock;
            this.checkEvery = checkEvery;
            reload();
        }

        @Override
        public JWKSet current() {
            Instant now = clock.instant();
            if (!now.isBefore(lastCheck.plus(checkEvery))) {
                synchronized (this) {
                    if (!now.isBefore(lastCheck.plus(checkEvery))) {
                        lastCheck = now;
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
