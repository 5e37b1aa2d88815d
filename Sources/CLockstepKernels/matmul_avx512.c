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
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))), apply_to = function)

/* 32 weights of one block as int16 (Q4: unsigned nibbles; the −8 of Q4_0 is applied later). */
LK_INLINE __m512i lk5_unpack(const uint8_t *blk, int fmt) {
    if (fmt == LK_Q8_0) return _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(blk + 2)));
    const uint8_t *qs = blk + (fmt == LK_Q4_1 ? 4 : 2);
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

/* fp16 bits in the low 16 bits of each lane → signed significand and exponent. */
LK_INLINE void lk5_split(__m512i h, __m512i *sig, __m512i *ex) {
    const __m512i one = _mm512_set1_epi32(1);
    __m512i e = _mm512_and_si512(_mm512_srli_epi32(h, 10), _mm512_set1_epi32(31));
    __m512i s = _mm512_or_si512(_mm512_and_si512(h, _mm512_set1_epi32(0x3FF)),
                                _mm512_slli_epi32(_mm512_min_epu32(e, one), 10));
    *ex = _mm512_sub_epi32(_mm512_max_epu32(e, one), _mm512_set1_epi32(25));
    __mmask16 neg = _mm512_test_epi32_mask(h, _mm512_set1_epi32(0x8000));
    *sig = _mm512_mask_sub_epi32(s, neg, _mm512_setzero_si512(), s);
}

/* acc += (sig << sh) · v as int64 (even lanes in *ae, odd lanes in *ao); flags bad shifts. */
LK_INLINE void lk5_term(__m512i sig, __m512i sh, __m512i v, __m512i vshmax, __m512i *ae, __m512i *ao,
                        __mmask16 *bad) {
    *bad |= _mm512_mask_cmpgt_epu32_mask(_mm512_test_epi32_mask(sig, sig), sh, vshmax);
    __m512i d = _mm512_sllv_epi32(sig, sh);
    *ae = _mm512_add_epi64(*ae, _mm512_mul_epi32(d, v));
    *ao = _mm512_add_epi64(*ao, _mm512_mul_epi32(_mm512_srli_epi64(d, 32), _mm512_srli_epi64(v, 32)));
}

LK_INLINE void lk5_tile(const lk_mm_ctx *c, int64_t r0, int64_t rend, int64_t t0, const int T) {
    const int R = 16 / T;
    const int fmt = c->format;
    const int64_t nb = c->nb, bb = c->bb, rb = c->row_bytes, TT = c->T;
    const uint8_t *rp[16];
    int32_t offs[16], basel[16];
    for (int i = 0; i < R; i++) {
        int64_t r = r0 + i < rend ? r0 + i : rend - 1;
        rp[i] = c->w + r * rb;
    }
    for (int L = 0; L < 16; L++) {
        int i = L / T, tt = L % T;
        int64_t r = r0 + i < rend ? r0 + i : rend - 1;
        offs[L] = (int32_t)((r - r0) * rb);
        basel[L] = c->hints[r] + c->emin[t0 + tt];
    }
    const __m512i voffs = _mm512_loadu_si512(offs), vbase = _mm512_loadu_si512(basel);
    const __m512i vshmax = _mm512_set1_epi32(c->shmax);
    __m512i acc_e = _mm512_setzero_si512(), acc_o = _mm512_setzero_si512();
    __mmask16 bad = 0;
    const uint8_t *gbase = c->w + r0 * rb;
    for (int64_t b = 0; b < nb; b++) {
        __m512i a[16];
        for (int tt = 0; tt < T; tt++) a[tt] = _mm512_loadu_si512(c->xv + ((t0 + tt) * nb + b) * 32);
        __m512i p[16];
        for (int i = 0; i < R; i++) {
            __m512i wv = lk5_unpack(rp[i] + b * bb, fmt);
            for (int tt = 0; tt < T; tt++) p[i * T + tt] = _mm512_madd_epi16(wv, a[tt]);
        }
        __m512i isum = lk5_reduce16(p);
        __m512i vae, vs;
        if (T == 1) {
            vae = _mm512_set1_epi32(c->ae[b * TT + t0]);
            vs = _mm512_set1_epi32(c->as[b * TT + t0]);
        } else {
            vae = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(c->ae + b * TT + t0)));
            vs = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(c->as + b * TT + t0)));
        }
        if (fmt == LK_Q4_0) isum = _mm512_sub_epi32(isum, _mm512_slli_epi32(vs, 3));
        __m512i g = _mm512_i32gather_epi32(voffs, gbase + b * bb, 1);
        __m512i sig, ex;
        lk5_split(g, &sig, &ex);
        lk5_term(sig, _mm512_sub_epi32(_mm512_add_epi32(ex, vae), vbase), isum, vshmax, &acc_e, &acc_o, &bad);
        if (fmt == LK_Q4_1) {
            lk5_split(_mm512_srli_epi32(g, 16), &sig, &ex);
            lk5_term(sig, _mm512_sub_epi32(_mm512_add_epi32(ex, vae), vbase), vs, vshmax, &acc_e, &acc_o, &bad);
        }
    }
    int64_t ev[8], ov[8];
    _mm512_storeu_si512(ev, acc_e);
    _mm512_storeu_si512(ov, acc_o);
    for (int L = 0; L < 16; L++) {
        int i = L / T, tt = L % T;
        if (r0 + i >= rend) continue;
        int64_t acc = (L & 1) ? ov[L >> 1] : ev[L >> 1];
        lk_mm_store(c, r0 + i, t0 + tt, acc, basel[L], (bad >> L) & 1);
    }
}

void lk_mm_rows_avx512(const lk_mm_ctx *c, int64_t r0, int64_t r1) {
    const int64_t T = c->T;
    for (int64_t g = r0; g < r1; g += 16) {
        int64_t t = 0;
        for (; t + 4 <= T; t += 4)
            for (int64_t s = g; s < g + 16 && s < r1; s += 4) lk5_tile(c, s, r1, t, 4);
        for (; t < T; t++) lk5_tile(c, g, r1, t, 1);
    }
}

void lk_mm_rows_avx512_novnni(const lk_mm_ctx *c, int64_t r0, int64_t r1) { lk_mm_rows_avx512(c, r0, r1); }

#pragma clang attribute pop
#endif
