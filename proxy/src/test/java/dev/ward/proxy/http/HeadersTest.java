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

    /** The one-pass removal on Ward's own map leaves what Netty's map is left with, header for header. */
    @Test
    void compactHeadersLoseWhatNettysHeadersLose() {
        String[][] headers = {{"Host", "orders"}, {"Connection", "keep-alive, X-Private"}, {"x-http2-stream-id", "3"},
                {"X-Private", "1"}, {"TE", "trailers"}, {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
                {"Proxy-Connection", "close"}, {"x-http2-scheme", "https"}, {"Keep-Alive", "timeout=5"}, {"Upgrade", "h2c"},
                {"Proxy-Authorization", "Basic x"}, {"Accept", "*/*"}, {"X-HTTP2-Path", "/p"}, {"Content-Length", "5"},
                {"transfer-encoding", "chunked"}, {"x-http2-stream-weight", "16"}, {"x-keep", "2"}};
        HttpResponse compact = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, new CompactHttpHeaders());
        HttpResponse netty = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        for (String[] h : headers) {
            compact.headers().add(h[0], h[1]);
            netty.headers().add(h[0], h[1]);
        }
        Headers.prepareForNextHop(compact, true);
        Headers.prepareForNextHop(netty, true);
        assertThat(names(compact)).containsExactly("Host", "traceparent", "Accept", "Content-Length", "x-keep");
        assertThat(names(compact)).isEqualTo(names(netty));
    }
}
