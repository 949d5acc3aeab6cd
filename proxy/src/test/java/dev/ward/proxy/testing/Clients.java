package dev.ward.proxy.testing;

import dev.ward.proxy.tls.IdentityMaterial;
import dev.ward.proxy.tls.JdkTls;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/** Real clients: JDK HttpClient (plain, through a sidecar, or mTLS) and raw TLS sockets. */
public final class Clients {

    private Clients() {}

    /** A client that uses the sidecar's outbound port as its HTTP proxy. */
    public static HttpClient viaProxy(int port) {
        return HttpClient.newBuilder().proxy(ProxySelector.of(new InetSocketAddress("127.0.0.1", port)))
                .connectTimeout(Duration.ofSeconds(5)).build();
    }

    public static HttpClient plain() {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    }

    public static SSLContext mtls(Path certs) throws Exception {
        IdentityMaterial m = IdentityMaterial.load(certs.resolve("tls.crt"), certs.resolve("tls.key"), certs.resolve("ca.crt"),
                Clock.systemUTC());
        return JdkTls.client(m);
    }

    /** An mTLS client with {@code certs}' identity, HTTP/2 or HTTP/1.1. */
    public static HttpClient mtlsClient(Path certs, HttpClient.Version version) throws Exception {
        return HttpClient.newBuilder().sslContext(mtls(certs)).version(version).connectTimeout(Duration.ofSeconds(5)).build();
    }

    /**
     * One {@code GET /echo} over a fresh TLS connection with {@code Connection: close}; returns the
     * status line, or throws if the connection was refused or closed without a response.
     */
    public static String tlsGet(SSLContext ctx, int port) throws IOException {
        return tlsRequest(ctx, port, "GET", "/echo");
    }

    /** Like {@link #tlsGet}, with the method and request-target sent exactly as given (no client-side cleanup). */
    public static String tlsRequest(SSLContext ctx, int port, String method, String target) throws IOException {
        try (SSLSocket s = handshake(ctx, port)) {
            s.getOutputStream().write((method + " " + target + " HTTP/1.1\r\nHost: orders\r\nConnection: close\r\n\r\n")
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            String response = new String(s.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.ISO_8859_1);
            if (response.isEmpty()) {
                throw new IOException("connection closed without a response");
            }
            return response.lines().findFirst().orElseThrow();
        }
    }

    /** Opens a TLS socket and completes the handshake (TLS 1.3 may still refuse the client on first read). */
    public static SSLSocket handshake(SSLContext ctx, int port) throws IOException {
        SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", port);
        s.setSoTimeout(5000);
        SSLParameters p = s.getSSLParameters();
        p.setApplicationProtocols(new String[] {"http/1.1"});
        s.setSSLParameters(p);
        s.startHandshake();
        return s;
    }
}
