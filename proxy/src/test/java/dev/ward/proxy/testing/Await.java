package dev.ward.proxy.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.function.BooleanSupplier;

/** Waits for a condition that real sockets make true eventually (5 s at most), then asserts it. */
public final class Await {

    private Await() {}

    public static void until(BooleanSupplier condition) throws InterruptedException {
        for (int i = 0; i < 200 && !condition.getAsBoolean(); i++) {
            Thread.sleep(25);
        }
        assertThat(condition.getAsBoolean()).as("condition within 5 s").isTrue();
    }
}
