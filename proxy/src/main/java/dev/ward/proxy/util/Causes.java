package dev.ward.proxy.util;

/** What went wrong at the bottom of an exception's chain of causes. */
public final class Causes {

    private Causes() {}

    /** The last cause in {@code e}'s chain ({@code e} itself when it has none). */
    public static Throwable root(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root;
    }
}
