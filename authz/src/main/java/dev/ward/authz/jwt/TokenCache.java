package dev.ward.authz.jwt;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.security.SecureRandom;

/**
 * Verified tokens, found by their own bytes: a two-way set-associative table (each token has two
 * slots it may occupy, chosen by a hash of its length and last 32 bytes under a random per-process
 * seed), compared whole and in constant time. A lookup reads the token where it arrived (no copy,
 * no digest); only an insert copies it.
 *
 * <p>Until 2026-12-05 the key was the token's SHA-256 as hex, so that the cache held no token.
 * That cost more than the rest of a cached verification (on a 600-byte token: copying it to bytes,
 * hashing them, formatting and hashing the hex; 0.6 µs of 0.7), and it bought little: the request
 * carried the token through the heap anyway. Envoy's JWT cache is keyed by the token too. The
 * hash only spreads tokens over the slots; what makes a hit is the whole token being equal. A
 * caller who sends tokens that share a cached token's hash can only evict it, which costs its
 * owner one signature check, less than the caller could cost with invalid tokens.
 *
 * <p>Racy by design and safe: entries are immutable and published whole (final fields); a lost
 * insert or eviction under a race only costs a signature check. The table is made at the first
 * insert, so a policy without tokens in use pays nothing for it.
 */
final class TokenCache<V> {

    /** A verified token: its bytes, its slot hash, and what its verification concluded. */
    record Entry<V>(byte[] token, int hash, V value) {}

    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final long SEED = new SecureRandom().nextLong();

    private final int capacity;
    private volatile Entry<V>[] slots;

    /** At least {@code entries} slots (a power of two, at least 2). */
    TokenCache(int entries) {
        if (entries < 1) {
            throw new IllegalArgumentException("a token cache needs at least one entry: " + entries);
        }
        this.capacity = entries <= 2 ? 2 : Integer.highestOneBit(entries - 1) << 1;
    }

    int capacity() {
        return capacity;
    }

    /** The entry for the token {@code b[off, off + len)}, or null. */
    Entry<V> get(byte[] b, int off, int len) {
        Entry<V>[] s = slots;
        if (s == null) {
            return null;
        }
        int h = hash(b, off, len);
        int i = h & (s.length - 2);
        Entry<V> e = s[i];
        if (e != null && e.hash == h && sameBytes(e.token, b, off, len)) {
            return e;
        }
        e = s[i + 1];
        if (e != null && e.hash == h && sameBytes(e.token, b, off, len)) {
            return e;
        }
        return null;
    }

    /** Caches {@code value} for a copy of the token {@code b[off, off + len)}; the older of the pair's two entries goes. */
    @SuppressWarnings("unchecked")
    Entry<V> put(byte[] b, int off, int len, V value) {
        Entry<V>[] s = slots;
        if (s == null) {
            slots = s = (Entry<V>[]) new Entry<?>[capacity];
        }
        byte[] token = java.util.Arrays.copyOfRange(b, off, off + len);
        Entry<V> n = new Entry<>(token, hash(token, 0, len), value);
        int i = n.hash & (s.length - 2);
        Entry<V> first = s[i];
        if (first != null && !(first.hash == n.hash && sameBytes(first.token, token, 0, len))) {
            s[i + 1] = first; // the newer stays first: a pair keeps the last two tokens that hashed to it
        }
        s[i] = n;
        return n;
    }

    /** Drops {@code e} if it is still cached. */
    void remove(Entry<V> e) {
        Entry<V>[] s = slots;
        if (s != null) {
            int i = e.hash & (s.length - 2);
            if (s[i] == e) {
                s[i] = null;
            } else if (s[i + 1] == e) {
                s[i + 1] = null;
            }
        }
    }

    /**
     * Spreads tokens over the slots by their length and last 32 bytes (the end of a JWS's
     * signature, which differs between any two tokens an issuer signs), mixed with the seed.
     */
    static int hash(byte[] b, int off, int len) {
        long h = SEED ^ len;
        int from = Math.max(0, len - 32);
        int i = from;
        for (; i + 8 <= len; i += 8) {
            h = (h ^ (long) LONGS.get(b, off + i)) * 0x9E3779B97F4A7C15L;
            h ^= h >>> 32;
        }
        for (; i < len; i++) {
            h = (h ^ (b[off + i] & 0xFF)) * 0x9E3779B97F4A7C15L;
        }
        h ^= h >>> 29;
        return (int) (h ^ (h >>> 32));
    }

    /** Whether {@code a} is {@code b[off, off + len)}, in time that depends on the length only. */
    static boolean sameBytes(byte[] a, byte[] b, int off, int len) {
        if (a.length != len) {
            return false;
        }
        long diff = 0;
        int i = 0;
        for (; i + 8 <= len; i += 8) {
            diff |= (long) LONGS.get(a, i) ^ (long) LONGS.get(b, off + i);
        }
        for (; i < len; i++) {
            diff |= a[i] ^ b[off + i];
        }
        return diff == 0;
    }
}
