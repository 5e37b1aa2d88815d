/* Helpers shared by the AVX-512 matmul kernels (included under each file's target pragma). */
#pragma once
#include "lk_internal.h"
#include <immintrin.h>

/* In-register transpose of 16 × 16 dwords: out[j] lane i = in[i] lane j. `in` is read in full before
   `out` is written, so the two may be the same array. */
LK_INLINE void lk5_transpose16(const __m512i *in, __m512i *out) {
    __m512i t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(in[2 * i], in[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(in[2 * i], in[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    /* u[4i + m], 128-bit lane k: column 4k + m of rows 4i … 4i + 3 */
    for (int m = 0; m < 4; m++) {
        __m512i x0 = _mm512_shuffle_i32x4(u[m], u[4 + m], 0x44), x1 = _mm512_shuffle_i32x4(u[m], u[4 + m], 0xEE);
        __m512i y0 = _mm512_shuffle_i32x4(u[8 + m], u[12 + m], 0x44), y1 = _mm512_shuffle_i32x4(u[8 + m], u[12 + m], 0xEE);
        out[m] = _mm512_shuffle_i32x4(x0, y0, 0x88);
        out[4 + m] = _mm512_shuffle_i32x4(x0, y0, 0xDD);
        out[8 + m] = _mm512_shuffle_i32x4(x1, y1, 0x88);
        out[12 + m] = _mm512_shuffle_i32x4(x1, y1, 0xDD);
    }
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

/* acc += (sig << sh) · v as int64 (even lanes in *ae, odd lanes in *ao); flags bad shifts.
   `v_uniform`: v holds the same value in both halves of every 64-bit lane (skips a shift). */
LK_INLINE void lk5_term(__m512i sig, __m512i sh, __m512i v, int v_uniform, __m512i vshmax, __m512i *ae, __m512i *ao,
                        __mmask16 *bad) {
    *bad |= _mm512_mask_cmpgt_epu32_mask(_mm512_test_epi32_mask(sig, sig), sh, vshmax);
    __m512i d = _mm512_sllv_epi32(sig, sh);
    *ae = _mm512_add_epi64(*ae, _mm512_mul_epi32(d, v));
    *ao = _mm512_add_epi64(*ao, _mm512_mul_epi32(_mm512_srli_epi64(d, 32), v_uniform ? v : _mm512_srli_epi64(v, 32)));
}

/* Q4_1: d (low word) and m (high word) of each lane decoded together with 16-bit operations;
   adds (sig_d << sh_d)·I + (sig_m << sh_m)·S. `cw`: per lane (e_act − base − 25) in both words. */
LK_INLINE void lk5_terms_q41(__m512i g, __m512i cw, __m512i isum, __m512i vs, int s_uniform, __m512i *ae, __m512i *ao,
                             __mmask32 *bad, __m512i vshmax16) {
    const __m512i one16 = _mm512_set1_epi16(1);
    __m512i e = _mm512_and_si512(_mm512_srli_epi16(g, 10), _mm512_set1_epi16(31));
    __m512i f = _mm512_and_si512(g, _mm512_set1_epi16(0x3FF));
    __m512i s = _mm512_mask_add_epi16(f, _mm512_test_epi16_mask(e, e), f, _mm512_set1_epi16(0x400));
    __m512i sig = _mm512_mask_sub_epi16(s, _mm512_test_epi16_mask(g, _mm512_set1_epi16((short)0x8000)), _mm512_setzero_si512(), s);
    __m512i sh = _mm512_add_epi16(_mm512_max_epu16(e, one16), cw);
    *bad |= _mm512_mask_cmpgt_epu16_mask(_mm512_test_epi16_mask(g, _mm512_set1_epi16(0x7FFF)), sh, vshmax16);
    __m512i dd = _mm512_sllv_epi32(_mm512_srai_epi32(_mm512_slli_epi32(sig, 16), 16), _mm512_and_si512(sh, _mm512_set1_epi32(0xFFFF)));
    __m512i dm = _mm512_sllv_epi32(_mm512_srai_epi32(sig, 16), _mm512_srli_epi32(sh, 16));
    *ae = _mm512_add_epi64(*ae, _mm512_add_epi64(_mm512_mul_epi32(dd, isum), _mm512_mul_epi32(dm, vs)));
    __m512i vso = s_uniform ? vs : _mm512_srli_epi64(vs, 32);
    *ao = _mm512_add_epi64(*ao, _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(dd, 32), _mm512_srli_epi64(isum, 32)),
                                                 _mm512_mul_epi32(_mm512_srli_epi64(dm, 32), vso)));
}

/* 16-bit bad-lane mask → 16 lane bits (lane L bad when either of its words is). */
LK_INLINE __mmask16 lk5_words_to_lanes(__mmask32 m) {
    uint32_t x = (uint32_t)m;
    x = (x | (x >> 1)) & 0x55555555u;
    x = (x | (x >> 1)) & 0x33333333u;
    x = (x | (x >> 2)) & 0x0F0F0F0Fu;
    x = (x | (x >> 4)) & 0x00FF00FFu;
    x = (x | (x >> 8)) & 0x0000FFFFu;
    return (__mmask16)x;
}

/* Writes the 16 outputs of a tile (lane L = row r0 + L/T, token t0 + L%T). */
LK_INLINE void lk5_store_tile(const lk_mm_ctx *c, int64_t r0, int64_t rend, int64_t t0, int T, __m512i acc_e,
                              __m512i acc_o, const int32_t *basel, __mmask16 bad) {
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

/* Per-lane row offsets (from row r0) and bases for a tile of 16/T rows × T tokens. */
LK_INLINE void lk5_tile_lanes(const lk_mm_ctx *c, int64_t r0, int64_t rend, int64_t t0, int T, int32_t *offs,
                              int32_t *basel) {
    for (int L = 0; L < 16; L++) {
        int i = L / T, tt = L % T;
        int64_t r = r0 + i < rend ? r0 + i : rend - 1;
        offs[L] = (int32_t)((r - r0) * c->row_bytes);
        basel[L] = c->hints[r] + c->emin[t0 + tt];
    }
}

/* Block b's activation exponent and block sum for each lane of a tile (lane L ↔ token t0 + L%T):
   one broadcast for T = 1, tokens t0 … t0+3 repeated for T = 4. */
LK_INLINE void lk5_token_terms(const lk_mm_ctx *c, int64_t b, int64_t t0, int T, __m512i *vae, __m512i *vs) {
    const int64_t at = b * c->T + t0;
    if (T == 1) {
        *vae = _mm512_set1_epi32(c->ae[at]);
        *vs = _mm512_set1_epi32(c->as[at]);
    } else {
        *vae = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(c->ae + at)));
        *vs = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(c->as + at)));
    }
}

/* Rows r0 … r1−1 of a product by a 16-lane tile function TILE(c, r0, rend, t0, T, fmt): per group
   of 16 rows, tiles of 4 rows × 4 tokens, then the tokens left over as tiles of 16 rows × 1. */
#define LK5_ROWS(TILE, c, r0, r1, fmt)                                                          \
    do {                                                                                        \
        const int64_t T_ = (c)->T;                                                              \
        for (int64_t g_ = (r0); g_ < (r1); g_ += 16) {                                          \
            int64_t t_ = 0;                                                                     \
            for (; t_ + 4 <= T_; t_ += 4)                                                       \
                for (int64_t s_ = g_; s_ < g_ + 16 && s_ < (r1); s_ += 4) TILE(c, s_, r1, t_, 4, fmt); \
            for (; t_ < T_; t_++) TILE(c, g_, r1, t_, 1, fmt);                                  \
        }                                                                                       \
    } while (0)

/* Software prefetch for decode tiles: while block b of a 16-row group is processed, fetch the
   matching slice of the group `ahead` groups later (groups are contiguous: 16 rows × row_bytes). */
#ifndef LK_PF_AHEAD
#define LK_PF_AHEAD 2
#endif
LK_INLINE void lk5_prefetch(const lk_mm_ctx *c, int64_t r0, int64_t b) {
    const int64_t chunk = 16 * c->bb;
    const uint8_t *p = c->w + (r0 + 16 * LK_PF_AHEAD) * c->row_bytes + b * chunk;
    const uint8_t *end = c->w + c->rows * c->row_bytes;
    for (int64_t k = 0; k < chunk; k += 64)
        if (p + k < end) _mm_prefetch((const char *)(p + k), _MM_HINT_T0);
}
