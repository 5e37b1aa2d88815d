/*
 * AVX2 matmul kernel: the AVX-512 kernel's scheme with 8 lanes — a tile is 8 (row, token)
 * pairs (8 rows × 1 token, or 2 rows × 4 tokens); block dot products by vpmaddwd, a vphaddd
 * tree for the 8 partial vectors, int64 lanes for the exact sum (see matmul.c).
 */
#include "lk_internal.h"
#ifdef LK_X86
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,bmi2"))), apply_to = function)

/* 32 weights as two vectors of 16 int16 (elements 0–15, 16–31). */
LK_INLINE void lk2_unpack(const uint8_t *blk, int fmt, __m256i *w0, __m256i *w1) {
    if (fmt == LK_Q8_0) {
        *w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(blk + 2)));
        *w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(blk + 18)));
        return;
    }
    const uint8_t *qs = blk + lk_q4_nibbles(fmt);
    __m128i x = _mm_loadu_si128((const __m128i *)qs);
    const __m128i m = _mm_set1_epi8(0x0F);
    *w0 = _mm256_cvtepu8_epi16(_mm_and_si128(x, m));
    *w1 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(x, 4), m));
}

/* Lane L = sum of the 8 lanes of p[L]. */
LK_INLINE __m256i lk2_reduce8(const __m256i *p) {
    __m256i h0 = _mm256_hadd_epi32(p[0], p[1]), h1 = _mm256_hadd_epi32(p[2], p[3]);
    __m256i h2 = _mm256_hadd_epi32(p[4], p[5]), h3 = _mm256_hadd_epi32(p[6], p[7]);
    __m256i h01 = _mm256_hadd_epi32(h0, h1), h23 = _mm256_hadd_epi32(h2, h3);
    return _mm256_add_epi32(_mm256_permute2x128_si256(h01, h23, 0x20), _mm256_permute2x128_si256(h01, h23, 0x31));
}

LK_INLINE void lk2_split(__m256i h, __m256i *sig, __m256i *ex) {
    const __m256i one = _mm256_set1_epi32(1);
    __m256i e = _mm256_and_si256(_mm256_srli_epi32(h, 10), _mm256_set1_epi32(31));
    __m256i s = _mm256_or_si256(_mm256_and_si256(h, _mm256_set1_epi32(0x3FF)),
                                _mm256_slli_epi32(_mm256_min_epu32(e, one), 10));
    *ex = _mm256_sub_epi32(_mm256_max_epu32(e, one), _mm256_set1_epi32(25));
    const __m256i sb = _mm256_set1_epi32(0x8000);
    __m256i neg = _mm256_cmpeq_epi32(_mm256_and_si256(h, sb), sb);
    *sig = _mm256_sub_epi32(_mm256_xor_si256(s, neg), neg);
}

LK_INLINE void lk2_term(__m256i sig, __m256i sh, __m256i v, __m256i vshmax, __m256i *ae, __m256i *ao, __m256i *bad) {
    __m256i zero = _mm256_cmpeq_epi32(sig, _mm256_setzero_si256());
    __m256i ok = _mm256_cmpeq_epi32(_mm256_max_epu32(sh, vshmax), vshmax);
    *bad = _mm256_or_si256(*bad, _mm256_andnot_si256(_mm256_or_si256(ok, zero), _mm256_set1_epi32(-1)));
    __m256i d = _mm256_sllv_epi32(sig, sh);
    *ae = _mm256_add_epi64(*ae, _mm256_mul_epi32(d, v));
    *ao = _mm256_add_epi64(*ao, _mm256_mul_epi32(_mm256_srli_epi64(d, 32), _mm256_srli_epi64(v, 32)));
}

LK_INLINE void lk2_tile(const lk_mm_ctx *c, int64_t r0, int64_t rend, int64_t t0, const int T, const int fmt) {
    const int R = 8 / T;
    const int64_t nb = c->nb, bb = c->bb, rb = c->row_bytes, TT = c->T;
    const uint8_t *rp[8];
    int32_t offs[8], basel[8];
    for (int i = 0; i < R; i++) {
        int64_t r = r0 + i < rend ? r0 + i : rend - 1;
        rp[i] = c->w + r * rb;
    }
    for (int L = 0; L < 8; L++) {
        int i = L / T, tt = L % T;
        int64_t r = r0 + i < rend ? r0 + i : rend - 1;
        offs[L] = (int32_t)((r - r0) * rb);
        basel[L] = c->hints[r] + c->emin[t0 + tt];
    }
    const __m256i voffs = _mm256_loadu_si256((const __m256i *)offs);
    const __m256i vbase = _mm256_loadu_si256((const __m256i *)basel);
    const __m256i vshmax = _mm256_set1_epi32(c->shmax);
    __m256i acc_e = _mm256_setzero_si256(), acc_o = _mm256_setzero_si256(), bad = _mm256_setzero_si256();
    const uint8_t *gbase = c->w + r0 * rb;
    for (int64_t b = 0; b < nb; b++) {
        if (T == 1) {
            /* prefetch the matching slice of the group two groups (16 rows) ahead */
            const int64_t chunk = 8 * bb;
            const uint8_t *pf = c->w + (r0 + 16) * rb + b * chunk;
            const uint8_t *end = c->w + c->rows * rb;
            for (int64_t k = 0; k < chunk; k += 64)
                if (pf + k < end) _mm_prefetch((const char *)(pf + k), _MM_HINT_T0);
        }
        __m256i alo[8], ahi[8];
        for (int tt = 0; tt < T; tt++) {
            const int16_t *s = c->xv + ((t0 + tt) * nb + b) * 32;
            alo[tt] = _mm256_loadu_si256((const __m256i *)s);
            ahi[tt] = _mm256_loadu_si256((const __m256i *)(s + 16));
        }
        __m256i p[8];
        for (int i = 0; i < R; i++) {
            __m256i w0, w1;
            lk2_unpack(rp[i] + b * bb, fmt, &w0, &w1);
            for (int tt = 0; tt < T; tt++)
                p[i * T + tt] = _mm256_add_epi32(_mm256_madd_epi16(w0, alo[tt]), _mm256_madd_epi16(w1, ahi[tt]));
        }
        __m256i isum = lk2_reduce8(p);
        __m256i vae, vs;
        if (T == 1) {
            vae = _mm256_set1_epi32(c->ae[b * TT + t0]);
            vs = _mm256_set1_epi32(c->as[b * TT + t0]);
        } else {
            vae = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(c->ae + b * TT + t0)));
            vs = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(c->as + b * TT + t0)));
        }
        if (fmt == LK_Q4_0) isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(vs, 3));
        __m256i g = _mm256_i32gather_epi32((const int *)(gbase + b * bb), voffs, 1);
        __m256i sig, ex;
        lk2_split(g, &sig, &ex);
        lk2_term(sig, _mm256_sub_epi32(_mm256_add_epi32(ex, vae), vbase), isum, vshmax, &acc_e, &acc_o, &bad);
        if (fmt == LK_Q4_1) {
            lk2_split(_mm256_srli_epi32(g, 16), &sig, &ex);
            lk2_term(sig, _mm256_sub_epi32(_mm256_add_epi32(ex, vae), vbase), vs, vshmax, &acc_e, &acc_o, &bad);
        }
    }
    int64_t ev[4], ov[4];
    int32_t bv[8];
    _mm256_storeu_si256((__m256i *)ev, acc_e);
    _mm256_storeu_si256((__m256i *)ov, acc_o);
    _mm256_storeu_si256((__m256i *)bv, bad);
    for (int L = 0; L < 8; L++) {
        int i = L / T, tt = L % T;
        if (r0 + i >= rend) continue;
        int64_t acc = (L & 1) ? ov[L >> 1] : ev[L >> 1];
        lk_mm_store(c, r0 + i, t0 + tt, acc, basel[L], bv[L] != 0);
    }
}

LK_INLINE void lk2_rows(const lk_mm_ctx *c, int64_t r0, int64_t r1, const int fmt) {
    const int64_t T = c->T;
    for (int64_t g = r0; g < r1; g += 8) {
        int64_t t = 0;
        for (; t + 4 <= T; t += 4)
            for (int64_t s = g; s < g + 8 && s < r1; s += 2) lk2_tile(c, s, r1, t, 4, fmt);
        for (; t < T; t++) lk2_tile(c, g, r1, t, 1, fmt);
    }
}

void lk_mm_rows_avx2(const lk_mm_ctx *c, int64_t r0, int64_t r1) {
    switch (c->format) {
    case LK_Q8_0: lk2_rows(c, r0, r1, LK_Q8_0); break;
    case LK_Q4_0: lk2_rows(c, r0, r1, LK_Q4_0); break;
    default: lk2_rows(c, r0, r1, LK_Q4_1); break;
    }
}

#pragma clang attribute pop
#endif
