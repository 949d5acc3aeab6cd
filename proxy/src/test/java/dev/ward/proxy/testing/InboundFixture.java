package dev.ward.proxy.testing;

import dev.ward.proxy.Sidecar;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * The common stage of the integration tests: a fresh trust domain, a real app, and sidecar
 * {@code b} ("orders") in front of it allowing only "frontend", whose certificates are in
 * {@code frontendCerts}. Sidecar {@code a}, if a test starts one, is closed too.
 */
public abstract class InboundFixture {

    @TempDir
    protected Path tmp;

    protected TestPki pki;
    protected TestApp app;
    protected Path ordersCerts;
    protected Path frontendCerts;
    protected Sidecar b;
    protected Sidecar a;

    @BeforeEach
    void startInbound() throws Exception {
        pki = new TestPki(tmp);
        app = new TestApp();
        ordersCerts = pki.issue("orders");
        frontendCerts = pki.issue("frontend");
        b = Sidecars.inbound(ordersCerts, app.port(), "", TestPki.id("frontend"));
    }

    @AfterEach
    void stopAll() {
        if (a != null) {
            a.close();
        }
        b.close();
        app.close();
    }

    /** Starts sidecar {@code a} ("frontend") with upstream "orders" pointing at {@code b}. */
    protected Sidecar startFrontend(String protocol) throws Exception {
        a = Sidecars.outbound(frontendCerts, b.port("inbound"), TestPki.id("orders"), protocol);
        return a;
    }
}
