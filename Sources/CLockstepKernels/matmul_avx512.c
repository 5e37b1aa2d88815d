/*
 * AVX-512 (F, BW, VL, DQ) matmul kernel. Lanes hold outputs: a tile is 16 (row, token) pairs
 * (16 rows × 1 token for decode, 4 rows × 4 tokens for batches). Per block, each pair's
 * integer dot product is one vpmaddwd over the block's 32 int16 activations; a transpose-add
 * tree turns the 16 partial vectors into one vector of 16 block sums, which is scaled
 * (fp16 significand shifted by the exponent difference, 32×32→64-bit products) and added into
 * int64 lanes. See matmul.c for why the result is exact.
 */
#include "lk_internal.h"
#ifdef LK_X86

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))), apply_to = function)
#include "mm_avx512.h"

/* 32 weights of one block as int16 (Q4: unsigned nibbles; the −8 of Q4_0 is applied later). */
LK_INLINE __m512i lk5_unpack(const uint8_t *blk, int fmt) {
    if (fmt == LK_Q8_0) return _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(blk + 2)));
    const uint8_t *qs = blk + lk_q4_nibbles(fmt);
    __m256i x = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    x = _mm256_srlv_epi16(x, _mm256_setr_epi16(0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4));
    x = _mm256_and_si256(x, _mm256_set1_epi8(0x0F));
    return _mm512_cvtepu8_epi16(x);
}

/* Lane L of the result = sum of the 16 lanes of p[L]. */
LK_INLINE __m512i lk5_reduce16(const __m512i *p) {
    __m512i s1[8], s2[4], s3[2];
    for (int i = 0; i < 8; i++)
        s1[i] = _mm512_add_epi32(_mm512_shuffle_i32x4(p[2 * i], p[2 * i + 1], 0x44),
                                 _mm512_shuffle_i32x4(p[2 * i], p[2 * i + 1], 0xEE));
    for (int i = 0; i < 4; i++)
        s2[i] = _mm512_add_epi32(_mm512_shuffle_i32x4(s1[2 * i], s1[2 * i + 1], 0x88),
                                 _mm512_shuffle_i32x4(s1[2 * i], s1[2 * i + 1], 0xDD));
    for (int i = 0; i < 2; i++)
        s3[i] = _mm512_add_epi32(_mm512_unpacklo_epi64(s2[2 * i], s2[2 * i + 1]),
                                 _mm512_unpackhi_epi64(s2[2 * i], s2[2 * i + 1]));
    __m512 a = _mm512_castsi512_ps(s3[0]), b = _mm512_castsi512_ps(s3[1]);
    __m512i r = _mm512_add_epi32(_mm512_castps_si512(_mm512_shuffle_ps(a, b, 0x88)),
                                 _mm512_castps_si512(_mm512_shuffle_ps(a, b, 0xDD)));
    /* lane 4k+j holds p[k+4j] */
    const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_epi32(idx, r);
}

LK_INLINE void lk5_tile(const lk_mm_ctx *c, int64_t r0, int64_t rend, int64_t t0, const int T, const int fmt) {
    const int R = 16 / T;
    const int64_t nb = c->nb, bb = c->bb, rb = c->row_bytes;
    const uint8_t *rp[16];
    int32_t offs[16], basel[16];
    for (int i = 0; i < R; i++) {
        int64_t r = r0 + i < rend ? r0 + i : rend - 1;
        rp[i] = c->w + r * rb;
    }
    lk5_tile_lanes(c, r0, rend, t0, T, offs, basel);
    const __m512i voffs = _mm512_loadu_si512(offs), vbase = _mm512_loadu_si512(basel);
    const __m512i vshmax = _mm512_set1_epi32(c->shmax);
    __m512i acc_e = _mm512_setzero_si512(), acc_o = _mm512_setzero_si512();
    __mmask16 bad = 0;
    const uint8_t *gbase = c->w + r0 * rb;
    for (int64_t b = 0; b < nb; b++) {
        if (T == 1) lk5_prefetch(c, r0, b);
        __m512i a[16];
        for (int tt = 0; tt < T; tt++) a[tt] = _mm512_loadu_si512(c->xv + ((t0 + tt) * nb + b) * 32);
        __m512i p[16];
        for (int i = 0; i < R; i++) {
            __m512i wv = lk5_unpack(rp[i] + b * bb, fmt);
            for (int tt = 0; tt < T; tt++) p[i * T + tt] = _mm512_madd_epi16(wv, a[tt]);
        }
        __m512i isum = lk5_reduce16(p);
        __m512i vae, vs;
        lk5_token_terms(c, b, t0, T, &vae, &vs);
        if (fmt == LK_Q4_0) isum = _mm512_sub_epi32(isum, _mm512_slli_epi32(vs, 3));
        __m512i g = _mm512_i32gather_epi32(voffs, gbase + b * bb, 1);
        __m512i sig, ex;
        lk5_split(g, &sig, &ex);
        lk5_term(sig, _mm512_sub_epi32(_mm512_add_epi32(ex, vae), vbase), isum, 0, vshmax, &acc_e, &acc_o, &bad);
        if (fmt == LK_Q4_1) {
            lk5_split(_mm512_srli_epi32(g, 16), &sig, &ex);
            lk5_term(sig, _mm512_sub_epi32(_mm512_add_epi32(ex, vae), vbase), vs, T == 1, vshmax, &acc_e, &acc_o, &bad);
        }
    }
    lk5_store_tile(c, r0, rend, t0, T, acc_e, acc_o, basel, bad);
}

void lk_mm_rows_avx512_novnni(const lk_mm_ctx *c, int64_t r0, int64_t r1) {
    switch (c->format) {
    case LK_Q8_0: LK5_ROWS(lk5_tile, c, r0, r1, LK_Q8_0); break;
    case LK_Q4_0: LK5_ROWS(lk5_tile, c, r0, r1, LK_Q4_0); break;
    default: LK5_ROWS(lk5_tile, c, r0, r1, LK_Q4_1); break;
    }
}

void lk_mm_rows_avx512(const lk_mm_ctx *c, int64_t r0, int64_t r1) {
    if (c->xb8 && c->format != LK_Q8_0) lk_mm_rows_avx512vnni_q4(c, r0, r1);
    else lk_mm_rows_avx512_novnni(c, r0, r1);
}

#pragma clang attribute pop
#endif
