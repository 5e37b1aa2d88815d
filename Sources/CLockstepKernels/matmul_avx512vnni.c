/*
 * AVX-512 VNNI kernel for Q4_0 and Q4_1. The int16 activations are split into bytes,
 * s = 256·(s >> 8) + (s & 0xFF), so that vpdpbusd (u8 × s8, four products per lane) can take
 * the nibbles directly: Σ q·s = 256·Σ q·hi + Σ lo·q, with q as the unsigned operand of the first
 * sum and the signed operand of the second. A zmm holds the 16 nibble bytes of four rows, so a
 * row's block sum is spread over only four lanes; the scaling and exact int64 accumulation are
 * those of the other kernels (see matmul.c).
 */
#include "lk_internal.h"
#ifdef LK_X86
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))), apply_to = function)
#include "mm_avx512.h"

/* The nibble bytes of four rows' blocks, one row per 128-bit lane. */
LK_INLINE __m512i lkv_load4(const uint8_t *p0, const uint8_t *p1, const uint8_t *p2, const uint8_t *p3) {
    __m512i w = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)p0));
    w = _mm512_inserti32x4(w, _mm_loadu_si128((const __m128i *)p1), 1);
    w = _mm512_inserti32x4(w, _mm_loadu_si128((const __m128i *)p2), 2);
    return _mm512_inserti32x4(w, _mm_loadu_si128((const __m128i *)p3), 3);
}

/* Block sums of four rows (one per 128-bit lane, spread over its four dwords) against one
   activation block given as byte planes (each broadcast to the four lanes). */
LK_INLINE __m512i lkv_dot4(__m512i wl, __m512i wh, __m512i al_lo, __m512i al_hi, __m512i ah_lo, __m512i ah_hi) {
    const __m512i z = _mm512_setzero_si512();
    __m512i h = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(z, wl, ah_lo), wh, ah_hi);
    __m512i l = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(z, al_lo, wl), al_hi, wh);
    return _mm512_add_epi32(_mm512_slli_epi32(h, 8), l);
}

/* Lane 4k + j of the result = sum of the four dwords of 128-bit lane k of p[j]. */
LK_INLINE __m512i lkv_reduce4(const __m512i *p) {
    __m512i s0 = _mm512_add_epi32(_mm512_unpacklo_epi64(p[0], p[1]), _mm512_unpackhi_epi64(p[0], p[1]));
    __m512i s1 = _mm512_add_epi32(_mm512_unpacklo_epi64(p[2], p[3]), _mm512_unpackhi_epi64(p[2], p[3]));
    __m512 a = _mm512_castsi512_ps(s0), b = _mm512_castsi512_ps(s1);
    return _mm512_add_epi32(_mm512_castps_si512(_mm512_shuffle_ps(a, b, 0x88)),
                            _mm512_castps_si512(_mm512_shuffle_ps(a, b, 0xDD)));
}

LK_INLINE __m512i lkv_bcast(const uint8_t *p) { return _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)p)); }

LK_INLINE void lkv_tile(const lk_mm_ctx *c, int64_t r0, int64_t rend, int64_t t0, const int T, const int fmt) {
    const int R = 16 / T;
    const int64_t nb = c->nb, bb = c->bb, rb = c->row_bytes, TT = c->T;
    const int64_t qo = lk_q4_nibbles(fmt);
    const uint8_t *rp[16];
    int32_t offs[16], basel[16];
    for (int i = 0; i < R; i++) {
        int64_t r = r0 + i < rend ? r0 + i : rend - 1;
        rp[i] = c->w + r * rb + qo;
    }
    lk5_tile_lanes(c, r0, rend, t0, T, offs, basel);
    const __m512i voffs = _mm512_loadu_si512(offs), vbase = _mm512_loadu_si512(basel);
    const __m512i vshmax = _mm512_set1_epi32(c->shmax), vshmax16 = _mm512_set1_epi16((short)c->shmax);
    /* −(base + 25) in both 16-bit halves of each lane */
    const __m512i nb25 = _mm512_sub_epi32(_mm512_set1_epi32(-25), vbase);
    const __m512i negb16 = _mm512_or_si512(_mm512_and_si512(nb25, _mm512_set1_epi32(0xFFFF)), _mm512_slli_epi32(nb25, 16));
    const __m512i perm = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m512i acc_e = _mm512_setzero_si512(), acc_o = _mm512_setzero_si512();
    __mmask16 bad = 0;
    __mmask32 bad16 = 0;
    const uint8_t *gbase = c->w + r0 * rb;
    for (int64_t b = 0; b < nb; b++) {
        if (T == 1) lk5_prefetch(c, r0, b);
        const int64_t off = b * bb;
        __m512i p[4];
        if (T == 1) {
            const uint8_t *a = c->xb8 + (t0 * nb + b) * 64;
            __m512i al_lo = lkv_bcast(a), al_hi = lkv_bcast(a + 16), ah_lo = lkv_bcast(a + 32), ah_hi = lkv_bcast(a + 48);
            for (int q = 0; q < 4; q++) {
                __m512i w = lkv_load4(rp[4 * q] + off, rp[4 * q + 1] + off, rp[4 * q + 2] + off, rp[4 * q + 3] + off);
                __m512i wl = _mm512_and_si512(w, m4), wh = _mm512_and_si512(_mm512_srli_epi16(w, 4), m4);
                p[q] = lkv_dot4(wl, wh, al_lo, al_hi, ah_lo, ah_hi);
            }
        } else {
            __m512i w = lkv_load4(rp[0] + off, rp[1] + off, rp[2] + off, rp[3] + off);
            __m512i wl = _mm512_and_si512(w, m4), wh = _mm512_and_si512(_mm512_srli_epi16(w, 4), m4);
            for (int tt = 0; tt < 4; tt++) {
                const uint8_t *a = c->xb8 + ((t0 + tt) * nb + b) * 64;
                p[tt] = lkv_dot4(wl, wh, lkv_bcast(a), lkv_bcast(a + 16), lkv_bcast(a + 32), lkv_bcast(a + 48));
            }
        }
        __m512i isum = lkv_reduce4(p);
        if (T == 1) isum = _mm512_permutexvar_epi32(perm, isum);
        __m512i vae, vs;
        lk5_token_terms(c, b, t0, T, &vae, &vs);
        __m512i g = _mm512_i32gather_epi32(voffs, gbase + off, 1);
        if (fmt == LK_Q4_0) {
            isum = _mm512_sub_epi32(isum, _mm512_slli_epi32(vs, 3));
            __m512i sig, ex;
            lk5_split(g, &sig, &ex);
            lk5_term(sig, _mm512_sub_epi32(_mm512_add_epi32(ex, vae), vbase), isum, 0, vshmax, &acc_e, &acc_o, &bad);
        } else {
            __m512i cw;
            if (T == 1) cw = _mm512_add_epi16(_mm512_set1_epi16((short)c->ae[b * TT + t0]), negb16);
            else cw = _mm512_add_epi16(_mm512_or_si512(_mm512_and_si512(vae, _mm512_set1_epi32(0xFFFF)), _mm512_slli_epi32(vae, 16)), negb16);
            lk5_terms_q41(g, cw, isum, vs, T == 1, &acc_e, &acc_o, &bad16, vshmax16);
        }
    }
    bad |= lk5_words_to_lanes(bad16);
    lk5_store_tile(c, r0, rend, t0, T, acc_e, acc_o, basel, bad);
}

void lk_mm_rows_avx512vnni_q4(const lk_mm_ctx *c, int64_t r0, int64_t r1) {
    if (c->format == LK_Q4_0) LK5_ROWS(lkv_tile, c, r0, r1, LK_Q4_0);
    else LK5_ROWS(lkv_tile, c, r0, r1, LK_Q4_1);
}

#pragma clang attribute pop
#endif
