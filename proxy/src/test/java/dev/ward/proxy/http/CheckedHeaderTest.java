package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import org.junit.jupiter.api.Test;

/** Header values checked once and set many times: what an inbound sidecar adds to every request of a peer. */
class CheckedHeaderTest {

    private static final String ID = "spiffe://prod.example/ns/shop/sa/frontend";

    @Test
    void refusesWhatAnyHeaderMapRefusesAndSaysWhereItIs() {
        assertThatThrownBy(() -> CheckedHeader.of(Headers.PEER_IDENTITY, "a\r\nx-injected: 1"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0xd at index 1");
        assertThatThrownBy(() -> CheckedHeader.of(Headers.PEER_IDENTITY, "a\0b")).hasMessageContaining("0x0 at index 1");
        assertThatThrownBy(() -> CheckedHeader.of(Headers.PEER_IDENTITY, "caf\u20ac")).hasMessageContaining("non-Latin-1").hasMessageContaining("index 3");
        assertThatThrownBy(() -> CheckedHeader.of(AsciiString.of("x ward"), ID)).hasMessageContaining("\"token\" characters");
        CompactHttpHeaders h = new CompactHttpHeaders();
        CheckedHeader.of(Headers.PEER_IDENTITY, ID).set(h);
        assertThat((Object) h.value(Headers.PEER_IDENTITY)).isEqualTo(new AsciiString(ID));
    }

    @Test
    void replacesEveryValueTheCallerSentOnWardsOwnMapAndOnNettys() {
        CheckedHeader v = CheckedHeader.of(Headers.PEER_IDENTITY, ID);
        for (HttpHeaders h : new HttpHeaders[] {new CompactHttpHeaders(), new DefaultHttpHeaders()}) {
            h.add("accept", "*/*").add("X-Ward-Peer-Identity", "spiffe://evil/ns/a/sa/b").add("x-ward-peer-identity", "forged");
            v.set(h);
            assertThat(h.getAll(Headers.PEER_IDENTITY)).as(h.getClass().getSimpleName()).containsExactly(ID);
            assertThat(h.get("accept")).isEqualTo("*/*");
            assertThat(h.size()).isEqualTo(2);
        }
    }

    @Test
    void theAppReceivesTheBytesAsChecked() {
        CompactHttpHeaders h = new CompactHttpHeaders();
        CheckedHeader.of(Headers.PEER_IDENTITY, ID).set(h);
        assertThat((Object) h.value(Headers.PEER_IDENTITY)).as("kept as bytes, which the encoder copies whole").isInstanceOf(AsciiString.class);
        assertThat(EncodedRequests.get(h)).isEqualTo("GET / HTTP/1.1\r\nx-ward-peer-identity: " + ID + "\r\n\r\n");
    }
}
