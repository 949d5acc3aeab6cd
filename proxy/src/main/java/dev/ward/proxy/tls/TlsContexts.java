package dev.ward.proxy.tls;

import dev.ward.authz.identity.SpiffeId;
import io.netty.handler.codec.http2.Http2SecurityUtil;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolConfig.Protocol;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectedListenerFailureBehavior;
import io.netty.handler.ssl.ApplicationProtocolConfig.SelectorFailureBehavior;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.OpenSslX509KeyManagerFactory;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import java.io.IOException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The TLS contexts of one sidecar, built from its {@link IdentityMaterial} and swapped
 * atomically when the identity files change. Listeners call {@link #server()} and connectors
 * {@link #client(boolean)} <em>per connection</em>, so a rotated certificate is used for every
 * new handshake while established connections keep running on the old one.
 *
 * <p>Both sides use BoringSSL (netty-tcnative) with TLS 1.3 preferred, TLS 1.2 as the minimum,
 * AEAD cipher suites only, and require and verify the peer's certificate with
 * {@link SpiffeTrustManager}. A reload that fails (unreadable, mismatched or expired files)
 * keeps the old contexts and logs why (fails safe: never serves without an identity).
 */
public final class TlsContexts implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(TlsContexts.class);
    private static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};
    private static final List<String> TLS13_CIPHERS =
            List.of("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256");

    /** Where the identity comes from and how the contexts are built. */
    public record Settings(Path cert, Path key, Path bundle, String trustDomain, SslProvider provider,
                           Duration reloadInterval) {
        public Settings {
            Objects.requireNonNull(cert, "cert");
            Objects.requireNonNull(key, "key");
            Objects.requireNonNull(bundle, "bundle");
            Objects.requireNonNull(provider, "provider");
            Objects.requireNonNull(reloadInterval, "reloadInterval");
        }
    }

    private record Contexts(IdentityMaterial material, SslContext server, SslContext serverRaw,
                            SslContext clientH2, SslContext clientHttp1) {}

    private final Settings settings;
    private final Clock clock;
    private final AtomicReference<Contexts> current = new AtomicReference<>();
    private final HandshakeRefusals refusals = new HandshakeRefusals();
    private volatile String lastFailedFingerprint;
    private dev.ward.proxy.util.Poller watcher;

    private TlsContexts(Settings settings, Clock clock) {
        this.settings = settings;
        this.clock = clock;
    }

    /**
     * Loads the identity and builds the contexts.
     *
     * @throws IOException naming the file and what is wrong with it
     * @throws IllegalStateException if BoringSSL is asked for and cannot load
     */
    public static TlsContexts load(Settings settings, Clock clock) throws IOException {
        requireProvider(settings.provider());
        TlsContexts t = new TlsContexts(settings, clock);
        t.current.set(t.build(IdentityMaterial.load(settings.cert(), settings.key(), settings.bundle(), clock)));
        return t;
    }

    /** Fails with a clear message when BoringSSL is required but the native library did not load. */
    public static void requireProvider(SslProvider provider) {
        if (provider == SslProvider.OPENSSL && !OpenSsl.isAvailable()) {
            Throwable cause = OpenSsl.unavailabilityCause();
            throw new IllegalStateException("tls.provider: openssl, but BoringSSL (netty-tcnative) could not be loaded: "
                    + (cause == null ? "unknown reason" : cause.getMessage())
                    + ". Netty unpacks it from the jar into its work directory (io.netty.native.workdir, here "
                    + System.getProperty("io.netty.native.workdir", io.netty.util.internal.PlatformDependent.tmpdir().getPath())
                    + "), which must be writable and not mounted noexec; or unpack the jar's META-INF/native/*.so into a "
                    + "directory and start the JVM with -Djava.library.path=DIR. Or set tls.provider: jdk to run on the "
                    + "JDK's TLS (slower).");
        }
    }

    /** Starts polling the identity files every {@code reloadInterval}. */
    public synchronized void watch() {
        if (watcher == null) {
            watcher = dev.ward.proxy.util.Poller.every(settings.reloadInterval(), "ward-identity-watch", this::reloadIfChanged);
        }
    }

    /**
     * Reloads the identity if any of its files changed. Returns true if new contexts are in
     * force. On failure the old contexts stay and the error is logged once per distinct content.
     */
    public boolean reloadIfChanged() {
        String fp;
        try {
            fp = IdentityMaterial.fingerprint(settings.cert(), settings.key(), settings.bundle());
        } catch (IOException e) {
            logFailure("unreadable", "identity files unreadable, keeping the current identity: " + e.getMessage());
            return false;
        }
        if (fp.equals(current.get().material().fingerprint()) || fp.equals(lastFailedFingerprint)) {
            return false;
        }
        try {
            IdentityMaterial m = IdentityMaterial.load(settings.cert(), settings.key(), settings.bundle(), clock);
            current.set(build(m));
            lastFailedFingerprint = null;
            log.info("identity reloaded: {} (expires {}); new handshakes use it, open connections keep theirs",
                    m.id(), m.notAfter());
            return true;
        } catch (IOException | RuntimeException e) {
            lastFailedFingerprint = fp;
            log.error("identity reload refused, keeping {}: {}", current.get().material(), e.getMessage());
            return false;
        }
    }

    private void logFailure(String key, String message) {
        if (!key.equals(lastFailedFingerprint)) {
            lastFailedFingerprint = key;
            log.error(message);
        }
    }

    private Contexts build(IdentityMaterial m) throws SSLException {
        String td = settings.trustDomain() != null ? settings.trustDomain() : m.id().trustDomain();
        SpiffeTrustManager trust = new SpiffeTrustManager(m.bundle(), td, clock, refusals);
        X509Certificate[] chain = m.chain().toArray(new X509Certificate[0]);
        KeyManagerFactory keys = keyManagers(m.key(), chain);
        ApplicationProtocolConfig alpnBoth = alpn(ApplicationProtocolNames.HTTP_2, ApplicationProtocolNames.HTTP_1_1);
        SslContext server = configure(SslContextBuilder.forServer(keys))
                .clientAuth(ClientAuth.REQUIRE).trustManager(trust).applicationProtocolConfig(alpnBoth).build();
        SslContext serverRaw = configure(SslContextBuilder.forServer(keys))
                .clientAuth(ClientAuth.REQUIRE).trustManager(trust).build();
        SslContext clientH2 = configure(SslContextBuilder.forClient().keyManager(keys))
                .trustManager(trust).endpointIdentificationAlgorithm(null).applicationProtocolConfig(alpnBoth).build();
        SslContext clientHttp1 = configure(SslContextBuilder.forClient().keyManager(keys))
                .trustManager(trust).endpointIdentificationAlgorithm(null)
                .applicationProtocolConfig(alpn(ApplicationProtocolNames.HTTP_1_1)).build();
        return new Contexts(m, server, serverRaw, clientH2, clientHttp1);
    }

    /**
     * One key manager for the four contexts, over an in-memory JKS store. Given the key and chain
     * instead, Netty builds a PKCS12 store per context, and PKCS12 protects the key with 10,000
     * PBKDF2-HMAC-SHA256 rounds when it is stored and again when it is read back: on a cold JVM
     * pinned to one core that was 0.9 s of a 3.4 s start-up (perf/README.md, Start-up), paid
     * again on every certificate rotation. This store never leaves memory, so the protection
     * bought nothing; JKS's is a few SHA-1 rounds.
     */
    private KeyManagerFactory keyManagers(PrivateKey key, X509Certificate[] chain) throws SSLException {
        char[] password = new char[0];
        try {
            KeyStore store = KeyStore.getInstance("JKS");
            store.load(null, null);
            store.setKeyEntry("key", key, password, chain);
            KeyManagerFactory keys = settings.provider() == SslProvider.OPENSSL
                    ? new OpenSslX509KeyManagerFactory()
                    : KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            keys.init(store, password);
            return keys;
        } catch (GeneralSecurityException | IOException e) {
            throw new SSLException("could not hold the private key for TLS: " + e.getMessage(), e);
        }
    }

    private SslContextBuilder configure(SslContextBuilder b) {
        java.util.Set<String> ciphers = new java.util.LinkedHashSet<>(TLS13_CIPHERS);
        ciphers.addAll(Http2SecurityUtil.CIPHERS); // TLS 1.2: ECDHE + AEAD only (RFC 7540 9.2.2)
        return b.sslProvider(settings.provider()).protocols(PROTOCOLS)
                .ciphers(ciphers, SupportedCipherSuiteFilter.INSTANCE);
    }

    private static ApplicationProtocolConfig alpn(String... protocols) {
        return new ApplicationProtocolConfig(Protocol.ALPN, SelectorFailureBehavior.NO_ADVERTISE,
                SelectedListenerFailureBehavior.ACCEPT, protocols);
    }

    /** Server context for HTTP listeners (ALPN h2, http/1.1), client certificate required. */
    public SslContext server() {
        return current.get().server();
    }

    /** Server context for raw TCP listeners (no ALPN), client certificate required. */
    public SslContext serverRaw() {
        return current.get().serverRaw();
    }

    /** Client context offering h2 and http/1.1, or http/1.1 only. */
    public SslContext client(boolean h2) {
        Contexts c = current.get();
        return h2 ? c.clientH2() : c.clientHttp1();
    }

    /** Refused handshakes so far, by reason, on every listener and upstream of this sidecar. */
    public HandshakeRefusals refusals() {
        return refusals;
    }

    /** The identity in force now. */
    public IdentityMaterial material() {
        return current.get().material();
    }

    public SpiffeId localId() {
        return material().id();
    }

    public SslProvider provider() {
        return settings.provider();
    }

    @Override
    public synchronized void close() {
        if (watcher != null) {
            watcher.close();
            watcher = null;
        }
    }
}
