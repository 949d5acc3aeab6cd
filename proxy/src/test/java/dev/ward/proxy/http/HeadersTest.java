package dev.ward.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class HeadersTest {

    static List<String> names(HttpResponse res) {
        List<String> out = new ArrayList<>();
        for (Map.Entry<String, String> e : res.headers()) {
            out.add(e.getKey());
        }
        return out;
    }

    /** RFC 9110 7.6.1: what Connection names goes, with Connection and the other hop-by-hop headers. */
    @Test
    void headersNamedInConnectionAreRemoved() {
        HttpResponse res = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        res.headers().add("Connection", "Keep-Alive ,X-Private,\tclose ,,")
                .add("Connection", "x-second")
                .add("Keep-Alive", "timeout=5").add("X-Private", "1").add("Close", "odd but named")
                .add("X-Second", "2").add("Transfer-Encoding", "chunked").add("Proxy-Authenticate", "Basic")
                .add("X-Keep", "3").add("Content-Length", "5");
        Headers.prepareForNextHop(res, true);
        assertThat(names(res)).containsExactly("X-Keep", "Content-Length");
    }

    @Test
    void withoutConnectionOnlyTheHopByHopHeadersGo() {
        HttpResponse res = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        res.headers().add("X-Private", "1").add("Upgrade", "h2c").add("Content-Length", "0");
        Headers.prepareForNextHop(res, false);
        assertThat(names(res)).containsExactly("X-Private", "Content-Length");
    }
}
