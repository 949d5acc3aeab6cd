package dev.ward.proxy.transport;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import dev.ward.proxy.util.Causes;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The socket transport a sidecar's event loops run on (config {@code transport}): {@code epoll}
 * (Netty's native epoll), {@code io_uring} (Netty's native io_uring transport, Linux 5.14+),
 * {@code nio} (the JDK's, any platform), or {@code auto}, the default: epoll where it loads, else
 * NIO. io_uring is not what {@code auto} takes: in {@code perf/} it did 4-8% more small requests
 * per second than epoll but 14% fewer 16 KiB ones, with 16% more CPU per request (perf/README.md,
 * Tuning log), and the default seccomp profiles of Docker and containerd refuse its system calls.
 * A transport named explicitly that cannot load here stops the sidecar with the reason, rather
 * than running on another; the ready line and {@code /config} say which one is in force.
 */
public enum Transport {
    AUTO("auto"), EPOLL("epoll"), IO_URING("io_uring"), NIO("nio");

    private final String text;

    Transport(String text) {
        this.text = text;
    }

    /** Accepts the names above, in any case, and {@code io-uring} / {@code iouring}. */
    @JsonCreator
    public static Transport of(String value) {
        String v = value == null ? "" : value.trim().toLowerCase(Locale.ROOT);
        return switch (v) {
            case "auto" -> AUTO;
            case "io_uring", "io-uring", "iouring" -> IO_URING;
            case "epoll" -> EPOLL;
            case "nio" -> NIO;
            default -> throw new IllegalArgumentException("'" + value + "' is not a transport (expected: auto, epoll, io_uring or nio)");
        };
    }

    @JsonValue
    public String text() {
        return text;
    }

    /** Whether this transport's native library loads and works on this machine ({@code auto}: always). */
    public boolean isAvailable() {
        return switch (this) {
            case AUTO, NIO -> true;
            case IO_URING -> IoUring.isAvailable();
            case EPOLL -> Epoll.isAvailable();
        };
    }

    /** Why {@link #isAvailable()} is false, for a person to read; null when it is available. */
    public String unavailabilityCause() {
        Throwable cause = switch (this) {
            case AUTO, NIO -> null;
            case IO_URING -> IoUring.unavailabilityCause();
            case EPOLL -> Epoll.unavailabilityCause();
        };
        if (cause == null) {
            return null;
        }
        Throwable root = Causes.root(cause);
        String msg = root.getMessage() != null ? root.getMessage() : root.getClass().getSimpleName();
        return root == cause ? msg : (cause.getMessage() != null ? cause.getMessage() + ": " : "") + msg;
    }

    /**
     * The transport to run on: this one, or for {@code auto} epoll where it loads, else NIO.
     * Throws, naming the reason, when this one was asked for by name and cannot load here.
     */
    public Transport resolve() {
        if (this == AUTO) {
            return EPOLL.isAvailable() ? EPOLL : NIO;
        }
        if (!isAvailable()) {
            throw new IllegalStateException("transport " + text + " is not available here (" + unavailabilityCause()
                    + "); use transport: auto to take the best one that is");
        }
        return this;
    }

    /** The transports that work on this machine (for {@code ward --version}). */
    public static List<Transport> available() {
        List<Transport> out = new ArrayList<>();
        for (Transport t : List.of(EPOLL, IO_URING, NIO)) {
            if (t.isAvailable()) {
                out.add(t);
            }
        }
        return out;
    }

    public EventLoopGroup newGroup(int threads, String name) {
        IoHandlerFactory f = switch (concrete()) {
            case IO_URING -> IoUringIoHandler.newFactory();
            case EPOLL -> EpollIoHandler.newFactory();
            default -> NioIoHandler.newFactory();
        };
        return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(name, true), f);
    }

    public Class<? extends ServerChannel> serverChannel() {
        return switch (concrete()) {
            case IO_URING -> IoUringServerSocketChannel.class;
            case EPOLL -> EpollServerSocketChannel.class;
            default -> NioServerSocketChannel.class;
        };
    }

    public Class<? extends Channel> channel() {
        return switch (concrete()) {
            case IO_URING -> IoUringSocketChannel.class;
            case EPOLL -> EpollSocketChannel.class;
            default -> NioSocketChannel.class;
        };
    }

    private Transport concrete() {
        if (this == AUTO) {
            throw new IllegalStateException("resolve() the auto transport before using it");
        }
        return this;
    }
}
