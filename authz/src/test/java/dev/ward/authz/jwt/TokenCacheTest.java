package dev.ward.authz.jwt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class TokenCacheTest {

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    @Test
    void findsATokenWhereverItsBytesLieAndOnlyThatToken() {
        TokenCache<String> cache = new TokenCache<>(16);
        byte[] token = bytes("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLWFsaWNlcy10b2tlbi1hbmQtbW9yZQ");
        assertThat(cache.get(token, 0, token.length)).as("empty").isNull();
        cache.put(token, 0, token.length, "alice");
        // The same bytes inside a header value, at an offset, as a decoder leaves them.
        byte[] header = bytes("Bearer " + new String(token, StandardCharsets.ISO_8859_1) + "  ");
        assertThat(cache.get(header, 7, token.length).value()).isEqualTo("alice");
        // Any one byte different, anywhere (the first, one in the middle, the last), or one byte shorter or longer: no hit.
        for (int at : new int[] {0, token.length / 2, token.length - 1}) {
            byte[] other = token.clone();
            other[at] ^= 1;
            assertThat(cache.get(other, 0, other.length)).as("byte %d changed", at).isNull();
        }
        assertThat(cache.get(token, 0, token.length - 1)).isNull();
        assertThat(cache.get(header, 7, token.length + 1)).isNull();
        // The cache kept its own copy: the caller's buffer being reused changes nothing.
        Arrays.fill(token, (byte) 'x');
        assertThat(cache.get(header, 7, header.length - 9).value()).isEqualTo("alice");
    }

    @Test
    void aPairKeepsTheLastTwoTokensThatHashToIt() {
        TokenCache<String> cache = new TokenCache<>(2); // one pair: every token hashes to it
        byte[] a = bytes("token-a");
        byte[] b = bytes("token-b");
        byte[] c = bytes("token-c");
        cache.put(a, 0, a.length, "a");
        cache.put(b, 0, b.length, "b");
        assertThat(cache.get(a, 0, a.length).value()).isEqualTo("a");
        assertThat(cache.get(b, 0, b.length).value()).isEqualTo("b");
        cache.put(c, 0, c.length, "c");
        assertThat(cache.get(a, 0, a.length)).as("the oldest goes").isNull();
        assertThat(cache.get(b, 0, b.length).value()).isEqualTo("b");
        assertThat(cache.get(c, 0, c.length).value()).isEqualTo("c");
        // Caching a token again replaces its entry in place and evicts nothing.
        cache.put(c, 0, c.length, "c2");
        assertThat(cache.get(b, 0, b.length).value()).isEqualTo("b");
        assertThat(cache.get(c, 0, c.length).value()).isEqualTo("c2");
        cache.remove(cache.get(b, 0, b.length));
        assertThat(cache.get(b, 0, b.length)).isNull();
        assertThat(cache.get(c, 0, c.length).value()).isEqualTo("c2");
    }

    @Test
    void sizesToAPowerOfTwoAndRefusesNone() {
        assertThat(new TokenCache<>(1).capacity()).isEqualTo(2);
        assertThat(new TokenCache<>(10_000).capacity()).isEqualTo(16_384);
        assertThat(new TokenCache<>(16_384).capacity()).isEqualTo(16_384);
        assertThatThrownBy(() -> new TokenCache<>(0)).hasMessageContaining("at least one entry");
    }

    @Test
    void comparesAndHashesAsThePlainRuleDoes() {
        SplittableRandom r = new SplittableRandom(7);
        for (int n = 0; n < 5_000; n++) {
            int len = r.nextInt(0, 80);
            byte[] a = new byte[len];
            for (int i = 0; i < len; i++) {
                a[i] = (byte) r.nextInt(256);
            }
            int off = r.nextInt(0, 9);
            byte[] b = new byte[off + len + r.nextInt(0, 9)];
            System.arraycopy(a, 0, b, off, len);
            if (len > 0 && r.nextBoolean()) {
                b[off + r.nextInt(len)] ^= (byte) (1 << r.nextInt(8));
            }
            boolean equal = Arrays.equals(a, 0, len, b, off, off + len);
            assertThat(TokenCache.sameBytes(a, b, off, len)).isEqualTo(equal);
            if (equal) {
                assertThat(TokenCache.hash(b, off, len)).isEqualTo(TokenCache.hash(a, 0, len));
            }
        }
    }

    @Test
    void spreadsTokensAsRandomSlotsWould() {
        // Tokens from an issuer differ at the end (their signatures), which the hash reads. (Tokens
        // made alike at the end share a pair and evict only each other: a hit still needs every
        // byte equal, tested above.)
        java.util.Set<Integer> pairs = new java.util.HashSet<>();
        for (int i = 0; i < 1_000; i++) {
            byte[] t = bytes("header.payload-" + i + ".signature-" + Integer.toHexString(i * 0x9E3779B9) + "-0123456789abcdef0123");
            pairs.add(TokenCache.hash(t, 0, t.length) & (1024 - 2));
        }
        // Random slots would leave 512 (1 - e^(-1000/512)) = 439 pairs used, give or take 9.
        assertThat(pairs.size()).as("1,000 tokens over 512 pairs").isGreaterThan(395);
    }
}
