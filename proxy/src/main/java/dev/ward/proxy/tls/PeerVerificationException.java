package dev.ward.proxy.tls;

import java.security.cert.CertificateException;

/**
 * A peer certificate was refused at the handshake. {@link #reason()} is a short snake_case
 * code for logs and metrics ({@code unknown_ca}, {@code expired}, {@code no_spiffe_id}, ...).
 */
public final class PeerVerificationException extends CertificateException {

    private final String reason;

    public PeerVerificationException(String reason, String detail) {
        super(reason + ": " + detail);
        this.reason = reason;
    }

    public PeerVerificationException(String reason, String detail, Throwable cause) {
        super(reason + ": " + detail, cause);
        this.reason = reason;
    }

    public String reason() {
        return reason;
    }
}
