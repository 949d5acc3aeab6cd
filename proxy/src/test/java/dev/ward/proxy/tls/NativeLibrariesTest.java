package dev.ward.proxy.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ward.proxy.testing.TestPki;
import dev.ward.proxy.transport.Transport;
import io.netty.channel.epoll.Epoll;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.OpenSslContext;
import io.netty.handler.ssl.SslProvider;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/**
 * A missing native jar makes Netty fall back silently to the JDK's TLS and NIO: this fails
 * loudly instead (see ENVIRONMENT notes: netty 4.2.18 / tcnative 2.0.84 are pinned for this).
 */
class NativeLibrariesTest {

    @Test
    void boringSslIsLoaded() {
        assertThat(OpenSsl.unavailabilityCause()).isNull();
        assertThat(OpenSsl.isAvailable()).isTrue();
        assertThat(OpenSsl.versionString()).containsIgnoringCase("BoringSSL");
    }

    @Test
    @EnabledOnOs(value = OS.LINUX, architectures = "amd64")
    void epollIsLoadedAndAutoTakesANativeTransport() {
        assertThat(Epoll.unavailabilityCause()).isNull();
        assertThat(Epoll.isAvailable()).isTrue();
        assertThat(Transport.EPOLL.resolve()).isEqualTo(Transport.EPOLL);
        assertThat(Transport.AUTO.resolve()).as("auto takes epoll where it loads").isEqualTo(Transport.EPOLL);
    }

    @Test
    @EnabledOnOs(value = OS.LINUX, architectures = "amd64")
    void ioUringLoadsWhereTheKernelAllowsIt() {
        // The native library itself must always load; whether the kernel lets it make a ring
        // depends on the host (containers' seccomp profiles often refuse it).
        if (Transport.IO_URING.isAvailable()) {
            assertThat(Transport.IO_URING.unavailabilityCause()).isNull();
            assertThat(Transport.IO_URING.resolve()).isEqualTo(Transport.IO_URING);
            assertThat(Transport.available()).containsExactly(Transport.EPOLL, Transport.IO_URING, Transport.NIO);
        } else {
            assertThat(Transport.IO_URING.unavailabilityCause()).as("the native jar is on the class path")
                    .doesNotContainIgnoringCase("native library").doesNotContain("UnsatisfiedLinkError");
            assertThat(Transport.available()).containsExactly(Transport.EPOLL, Transport.NIO);
            assertThatThrownBy(Transport.IO_URING::resolve).hasMessageContaining("transport io_uring is not available here");
        }
    }

    @Test
    void tlsContextsAreBuiltOnBoringSsl(@TempDir Path tmp) throws Exception {
        Path certs = new TestPki(tmp).issue("orders");
        try (TlsContexts t = TlsContexts.load(new TlsContexts.Settings(certs.resolve("tls.crt"), certs.resolve("tls.key"),
                certs.resolve("ca.crt"), null, SslProvider.OPENSSL, Duration.ZERO), Clock.systemUTC())) {
            assertThat(t.server()).isInstanceOf(OpenSslContext.class);
            assertThat(t.client(true)).isInstanceOf(OpenSslContext.class);
            assertThat(t.server().applicationProtocolNegotiator().protocols()).containsExactly("h2", "http/1.1");
        }
    }
}
