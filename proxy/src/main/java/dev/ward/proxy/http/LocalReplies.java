package dev.ward.proxy.http;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import java.nio.charset.StandardCharsets;

/**
 * Responses Ward makes itself (denials, bad requests, unreachable upstreams): a status, the
 * reason code in {@code x-ward-reason}, and a small JSON body {@code {"error":..,"message":..}}.
 * Never a stack trace, never policy details.
 */
public final class LocalReplies {

    private LocalReplies() {}

    public static FullHttpResponse json(ByteBufAllocator alloc, HttpResponseStatus status, String reason, String message) {
        JsonStringEncoder enc = JsonStringEncoder.getInstance();
        String body = "{\"error\":\"" + new String(enc.quoteAsString(reason)) + "\",\"message\":\""
                + new String(enc.quoteAsString(message)) + "\"}\n";
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, alloc.buffer(bytes.length).writeBytes(bytes));
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length)
                .set(Headers.REASON, reason);
        return r;
    }
}
