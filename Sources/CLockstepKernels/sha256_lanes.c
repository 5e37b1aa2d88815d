/*
 * SHA-256 (FIPS 180-4) of 16 messages at once, one per 32-bit lane of AVX-512 registers.
 *
 * A trace hashes every row of a forward pass as its own message, and all those messages have
 * one shape: the step domain tag, a 9-byte step header, a row of `dim` or `vocab` binary32
 * values (and a token). Hashing 16 of them side by side needs no SHA instructions: each round
 * is the same vector operations on 16 independent states, so it runs at the machine's vector
 * rate (about twice OpenSSL's SHA-NI rate for one message on this machine, see
 * Benchmarks/kernels/sha256_bench.c) instead of one message's latency chain.
 *
 * The digests are SHA-256's, whatever the path: the tests compare them with OpenSSL's.
 */
#include "lk_internal.h"

#ifdef LK_X86
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw"))), apply_to = function)
#include <immintrin.h>

/* The round constants: the first 32 bits of the fractional parts of the cube roots of the first
   64 primes (FIPS 180-4 §4.2.2). */
static const uint32_t lks_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

/* The initial hash value (§5.3.3). */
static const uint32_t lks_h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

/* Ternary-logic immediates: the bitwise functions of three inputs (a, b, c). */
#define LKS_XOR3 0x96   /* a ^ b ^ c */
#define LKS_CH 0xCA     /* a ? b : c */
#define LKS_MAJ 0xE8    /* majority */

/* r[i] holds dwords 0–15 of row i; afterwards r[j] holds dword j of rows 0–15. */
LK_INLINE void lks_transpose(__m512i r[16]) {
    __m512i t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    /* r[4g + k], 128-bit part q: dword 4q + k of rows 4g … 4g + 3 */
    for (int k = 0; k < 4; k++) {
        const __m512i a = _mm512_shuffle_i32x4(r[k], r[4 + k], 0x88), b = _mm512_shuffle_i32x4(r[k], r[4 + k], 0xDD);
        const __m512i c = _mm512_shuffle_i32x4(r[8 + k], r[12 + k], 0x88), d = _mm512_shuffle_i32x4(r[8 + k], r[12 + k], 0xDD);
        t[k] = _mm512_shuffle_i32x4(a, c, 0x88);
        t[8 + k] = _mm512_shuffle_i32x4(a, c, 0xDD);
        t[4 + k] = _mm512_shuffle_i32x4(b, d, 0x88);
        t[12 + k] = _mm512_shuffle_i32x4(b, d, 0xDD);
    }
    for (int i = 0; i < 16; i++) r[i] = t[i];
}

/* One compression of the 16 states s[0..7] (lane i: message i) with block i at blk[i] (64 bytes). */
static void lks_compress(__m512i s[8], const uint8_t *const blk[16]) {
    __m512i w[16];   /* the message schedule, a window of 16 words */
    for (int i = 0; i < 16; i++) w[i] = _mm512_loadu_si512(blk[i]);
    lks_transpose(w);
    const __m512i be = _mm512_broadcast_i32x4(_mm_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12));
    for (int i = 0; i < 16; i++) w[i] = _mm512_shuffle_epi8(w[i], be);
    __m512i a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
    for (int t = 0; t < 64; t++) {
        if (t >= 16) {
            const __m512i x15 = w[(t - 15) & 15], x2 = w[(t - 2) & 15];
            const __m512i s0 = _mm512_ternarylogic_epi32(_mm512_ror_epi32(x15, 7), _mm512_ror_epi32(x15, 18), _mm512_srli_epi32(x15, 3), LKS_XOR3);
            const __m512i s1 = _mm512_ternarylogic_epi32(_mm512_ror_epi32(x2, 17), _mm512_ror_epi32(x2, 19), _mm512_srli_epi32(x2, 10), LKS_XOR3);
            w[t & 15] = _mm512_add_epi32(_mm512_add_epi32(w[t & 15], s0), _mm512_add_epi32(w[(t - 7) & 15], s1));
        }
        const __m512i sig1 = _mm512_ternarylogic_epi32(_mm512_ror_epi32(e, 6), _mm512_ror_epi32(e, 11), _mm512_ror_epi32(e, 25), LKS_XOR3);
        const __m512i ch = _mm512_ternarylogic_epi32(e, f, g, LKS_CH);
        const __m512i t1 = _mm512_add_epi32(_mm512_add_epi32(h, sig1),
                                            _mm512_add_epi32(ch, _mm512_add_epi32(w[t & 15], _mm512_set1_epi32((int)lks_k[t]))));
        const __m512i sig0 = _mm512_ternarylogic_epi32(_mm512_ror_epi32(a, 2), _mm512_ror_epi32(a, 13), _mm512_ror_epi32(a, 22), LKS_XOR3);
        const __m512i maj = _mm512_ternarylogic_epi32(a, b, c, LKS_MAJ);
        h = g; g = f; f = e; e = _mm512_add_epi32(d, t1);
        d = c; c = b; b = a; a = _mm512_add_epi32(t1, _mm512_add_epi32(sig0, maj));
    }
    s[0] = _mm512_add_epi32(s[0], a); s[1] = _mm512_add_epi32(s[1], b);
    s[2] = _mm512_add_epi32(s[2], c); s[3] = _mm512_add_epi32(s[3], d);
    s[4] = _mm512_add_epi32(s[4], e); s[5] = _mm512_add_epi32(s[5], f);
    s[6] = _mm512_add_epi32(s[6], g); s[7] = _mm512_add_epi32(s[7], h);
}

/* Lane i's bytes come from ptrs[i] when i < n, else from ptrs[0] (its digest is not read). */
LK_INLINE const uint8_t *lks_lane(const uint8_t *const *ptrs, int n, int i) { return ptrs[i < n ? i : 0]; }

static void lks_stream_update(lk_sha256_stream *st, int n, const uint8_t *const *ptrs, int64_t len) {
    __m512i s[8];
    for (int k = 0; k < 8; k++) s[k] = _mm512_loadu_si512(st->h[k]);
    const uint8_t *blk[16];
    int64_t used = st->length % 64, off = 0;
    if (used > 0) {   /* top up the buffered partial blocks */
        const int64_t take = len < 64 - used ? len : 64 - used;
        for (int i = 0; i < 16; i++) memcpy(st->tail[i] + used, lks_lane(ptrs, n, i), (size_t)take);
        used += take; off = take;
        if (used == 64) {
            for (int i = 0; i < 16; i++) blk[i] = st->tail[i];
            lks_compress(s, blk);
            used = 0;
        }
    }
    for (; used == 0 && off + 64 <= len; off += 64) {   /* whole blocks straight from the messages */
        for (int i = 0; i < 16; i++) blk[i] = lks_lane(ptrs, n, i) + off;
        lks_compress(s, blk);
    }
    if (off < len)   /* the rest waits for the next bytes or the padding (used is 0 here) */
        for (int i = 0; i < 16; i++) memcpy(st->tail[i], lks_lane(ptrs, n, i) + off, (size_t)(len - off));
    st->length += len;
    for (int k = 0; k < 8; k++) _mm512_storeu_si512(st->h[k], s[k]);
}

static void lks_stream_final(lk_sha256_stream *st, int n, uint8_t *digests) {
    __m512i s[8];
    for (int k = 0; k < 8; k++) s[k] = _mm512_loadu_si512(st->h[k]);
    const uint8_t *blk[16];
    for (int i = 0; i < 16; i++) blk[i] = st->tail[i];
    const int64_t used = st->length % 64;
    for (int i = 0; i < 16; i++) {
        st->tail[i][used] = 0x80;
        memset(st->tail[i] + used + 1, 0, (size_t)(63 - used));
    }
    if (used + 1 > 56) {   /* no room for the length: one more block */
        lks_compress(s, blk);
        for (int i = 0; i < 16; i++) memset(st->tail[i], 0, 64);
    }
    const uint64_t bits = (uint64_t)st->length * 8;
    for (int i = 0; i < 16; i++)
        for (int q = 0; q < 8; q++) st->tail[i][56 + q] = (uint8_t)(bits >> (56 - 8 * q));
    lks_compress(s, blk);
    _Alignas(64) uint32_t words[8][16];
    for (int k = 0; k < 8; k++) _mm512_store_si512(words[k], s[k]);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 8; k++) {
            const uint32_t v = words[k][i];
            uint8_t *out = digests + 32 * i + 4 * k;
            out[0] = (uint8_t)(v >> 24); out[1] = (uint8_t)(v >> 16); out[2] = (uint8_t)(v >> 8); out[3] = (uint8_t)v;
        }
}
#pragma clang attribute pop
#endif

int lk_sha256_stream_init(lk_sha256_stream *st) {
#ifdef LK_X86
    if (!lk_isa_supported(LK_ISA_AVX512)) return 0;
    for (int k = 0; k < 8; k++)
        for (int i = 0; i < 16; i++) st->h[k][i] = lks_h0[k];
    st->length = 0;
    return 1;
#else
    (void)st;
    return 0;
#endif
}

void lk_sha256_stream_update(lk_sha256_stream *st, int n, const uint8_t *const *ptrs, int64_t len) {
#ifdef LK_X86
    if (n >= 1 && n <= 16 && len > 0) lks_stream_update(st, n, ptrs, len);
#else
    (void)st; (void)n; (void)ptrs; (void)len;
#endif
}

void lk_sha256_stream_final(lk_sha256_stream *st, int n, uint8_t *digests) {
#ifdef LK_X86
    if (n >= 1 && n <= 16) lks_stream_final(st, n, digests);
#else
    (void)st; (void)n; (void)digests;
#endif
}

int lk_sha256_lanes(int64_t count, int parts, const uint8_t *const *ptrs, const int64_t *lengths, uint8_t *digests) {
#ifdef LK_X86
    if (count < 0 || parts < 1 || !lk_isa_supported(LK_ISA_AVX512)) return 0;
    int64_t total = 0;
    for (int j = 0; j < parts; j++) {
        if (lengths[j] < 0 || lengths[j] > (INT64_MAX / 8 - 72 - total)) return 0;
        total += lengths[j];
    }
    /* Each group of 16 messages as a stream fed part by part (a part that starts inside a
       block tops up the buffered bytes; whole blocks are read in place). */
    lk_sha256_stream st;
    const uint8_t *part[16];
    for (int64_t first = 0; first < count; first += 16) {
        const int n = count - first < 16 ? (int)(count - first) : 16;
        lk_sha256_stream_init(&st);
        for (int j = 0; j < parts; j++) {
            for (int i = 0; i < n; i++) part[i] = ptrs[(first + i) * parts + j];
            lk_sha256_stream_update(&st, n, part, lengths[j]);
        }
        lk_sha256_stream_final(&st, n, digests + 32 * first);
    }
    return 1;
#else
    (void)count; (void)parts; (void)ptrs; (void)lengths; (void)digests;
    return 0;
#endif
}
