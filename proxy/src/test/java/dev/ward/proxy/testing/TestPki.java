package dev.ward.proxy.testing;

import dev.ward.authz.identity.SpiffeId;
import dev.ward.proxy.certs.DevCertificateAuthority;
import dev.ward.proxy.tls.Pem;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** Certificates minted per test with the product's own dev CA, written under a temp dir. */
public final class TestPki {

    public static final String TD = "test.ward";

    private final Path dir;
    public final DevCertificateAuthority ca;

    public TestPki(Path dir) {
        this.dir = dir;
        this.ca = DevCertificateAuthority.create(TD, Duration.ofDays(1));
    }

    public static SpiffeId id(String sa) {
        return SpiffeId.parse("spiffe://" + TD + "/ns/test/sa/" + sa);
    }

    /** Issues {@code sa} from the main CA into {@code dir/sa}; returns that directory. */
    public Path issue(String sa) {
        return write(sa, ca.issue(id(sa), Duration.ofHours(1)));
    }

    public Path write(String name, DevCertificateAuthority.Leaf leaf) {
        try {
            Path d = dir.resolve(name);
            leaf.writeTo(d);
            return d;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A leaf that expired an hour ago. */
    public Path issueExpired(String sa) {
        Instant now = Instant.now();
        return write(sa + "-expired", ca.issue(id(sa), now.minus(Duration.ofHours(3)), now.minus(Duration.ofHours(1))));
    }

    /** Adds more CAs to the bundle file in {@code leafDir} (a federated bundle). */
    public static void addToBundle(Path leafDir, X509Certificate... cas) {
        try {
            List<X509Certificate> all = new ArrayList<>(Pem.readCertificates(leafDir.resolve("ca.crt")));
            all.addAll(List.of(cas));
            Pem.writeCertificates(leafDir.resolve("ca.crt"), all);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Replaces {@code target}'s files with {@code source}'s, each by an atomic rename. */
    public static void rotate(Path source, Path target) {
        try {
            for (String f : List.of("ca.crt", "tls.key", "tls.crt")) {
                Path tmp = target.resolve(f + ".new");
                Files.copy(source.resolve(f), tmp, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                Files.move(tmp, target.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                        java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public Path dir() {
        return dir;
    }
}
