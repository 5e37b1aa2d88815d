/*
 * AVX-512 attention scores: 16 positions per vector. The key tiles hold sixteen key blocks
 * transposed (16×16 dwords, lane i = position i), built once per lk_attention call and shared by
 * the query heads of a GQA group and by every query row. Each query block is split as
 * q = 256·(q >> 8) + (q & 0xFF), which keeps every int32 lane sum exact
 * (|Σ (q>>8)·k| < 2^27, |Σ (q&0xFF)·k| < 2^28); a position's blocks are then combined as int64
 * fixed point and rounded once — the same exact value as the reference's accumulator. Lanes the
 * fast path cannot prove exact are recomputed by the wide accumulator.
 */
#include "lk_internal.h"
#ifdef LK_X86
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))), apply_to = function)
#include "mm_avx512.h"

/* Query blocks (heads of the call × blocks per head) the scores take in one call: the size of
   their per-call arrays. */
#define LKA_MAX_QBLOCKS 64

/*
 * One key tile (layout: LK_ATTN_TILE_DWORDS in lk_internal.h) in registers: column col (kv head,
 * block of the head), positions j0 … j0 + 15, those past `last` repeating position `last`.
 */
LK_INLINE void lka_key_tile(const lk_attention_cache *c, int64_t col, int64_t j0, int64_t last, __m512i r[16], __m512i *ke) {
    const int64_t kvstride = c->kv_heads * ((c->head_dim + 31) / 32);
    int32_t e[16];
    for (int i = 0; i < 16; i++) {
        const int64_t j = j0 + i < last ? j0 + i : last;
        r[i] = _mm512_loadu_si512(c->keys + (j * kvstride + col) * 32);
        e[i] = c->key_exponents[j * kvstride + col];
    }
    lk5_transpose16(r, r);
    *ke = _mm512_loadu_si512(e);
}

size_t lk_attn_key_tiles_bytes(const lk_attention_cache *c, int64_t vlen) {
    const int64_t bph = (c->head_dim + 31) / 32;
    if ((c->heads / c->kv_heads) * bph > LKA_MAX_QBLOCKS) return 0;   /* the scores will not take the group */
    return (size_t)(c->kv_heads * bph * ((vlen + 15) / 16)) * LK_ATTN_TILE_DWORDS * sizeof(int32_t);
}

void lk_attn_key_tiles_avx512(const lk_attention_cache *c, int64_t vlen, int32_t *tiles) {
    const int64_t ntiles = (vlen + 15) / 16;
    for (int64_t col = 0; col < c->kv_heads * ((c->head_dim + 31) / 32); col++)
        for (int64_t ti = 0; ti < ntiles; ti++) {
            int32_t *tile = tiles + (col * ntiles + ti) * LK_ATTN_TILE_DWORDS;
            __m512i r[16], ke;
            lka_key_tile(c, col, ti * 16, vlen - 1, r, &ke);
            for (int p = 0; p < 16; p++) _mm512_storeu_si512(tile + 16 * p, r[p]);
            _mm512_storeu_si512(tile + 256, ke);
        }
}

/*
 * Eight int64 sums a as binary32 times `scale` (per lane, a power of two in binary64): one
 * rounding int64 → binary32, then an exact scaling in binary64 and the conversion back, exact
 * unless the result is subnormal. A zero sum gives +0. *nonzero gets the lanes with a ≠ 0,
 * *tiny those whose scaled value is below 2^−126 in magnitude (subnormal or zero in binary32:
 * the callers take the non-zero ones by the exact path).
 */
LK_INLINE __m256 lka_round_scale8(__m512i a, __m512d scale, __mmask8 *nonzero, __mmask8 *tiny) {
    const __m512d d = _mm512_mul_pd(_mm512_cvtps_pd(_mm512_cvtepi64_ps(a)), scale);
    *nonzero = _mm512_test_epi64_mask(a, a);
    *tiny = _mm512_cmp_pd_mask(_mm512_abs_pd(d), _mm512_set1_pd(0x1p-126), _CMP_LT_OQ);
    return _mm256_maskz_mov_ps(*nonzero, _mm512_cvtpd_ps(d));
}

/*
 * Scores of `g` (g·bph ≤ LKA_MAX_QBLOCKS) query heads (quantised: qv g×bph×32, qe g×bph)
 * against positions 0 … n−1 (n ≤ job->vlen) of key/value head kvh:
 * sc[gi·stride + j] = round(q·k_j)·scale. Reads the job's key tiles (`tiled`), or builds each
 * tile as it goes.
 */
LK_INLINE void lka_scores(const lk_attention_job *job, const int16_t *qv, const int32_t *qe, int64_t g, int64_t kvh,
                          int64_t n, float *sc, int64_t stride, const int tiled) {
    const lk_attention_cache *c = job->cache;
    const int64_t bph = (c->head_dim + 31) / 32, kvstride = c->kv_heads * bph, ntiles = (job->vlen + 15) / 16;
    /* q split into high and low parts; pair p (elements 2p, 2p + 1) meets transposed key vector p */
    int32_t qpair_h[LKA_MAX_QBLOCKS][16], qpair_l[LKA_MAX_QBLOCKS][16];
    for (int64_t gb = 0; gb < g * bph; gb++) {
        const int16_t *q = qv + gb * 32;
        for (int p = 0; p < 16; p++) {
            int16_t h0 = (int16_t)(q[2 * p] >> 8), h1 = (int16_t)(q[2 * p + 1] >> 8);
            int16_t l0 = (int16_t)(q[2 * p] & 0xFF), l1 = (int16_t)(q[2 * p + 1] & 0xFF);
            qpair_h[gb][p] = (int32_t)(uint16_t)h0 | ((int32_t)(uint16_t)h1 << 16);
            qpair_l[gb][p] = (int32_t)(uint16_t)l0 | ((int32_t)(uint16_t)l1 << 16);
        }
    }
    const int qk_spread = 62 - 35 - (bph <= 1 ? 0 : bph <= 2 ? 1 : bph <= 4 ? 2 : bph <= 8 ? 3 : bph <= 16 ? 4 : bph <= 32 ? 5 : 6);
    const __m512 vscale = _mm512_set1_ps(c->scale);

    for (int64_t j0 = 0; j0 < n; j0 += 16) {
        __m512i lo_i[LKA_MAX_QBLOCKS], hi_i[LKA_MAX_QBLOCKS];   /* per (gi, b): int64 block sums, lanes 0–7 / 8–15 */
        __m512i ex[LKA_MAX_QBLOCKS];                           /* per (gi, b): exponents */
        for (int64_t b = 0; b < bph; b++) {
            __m512i r[16], ke;
            if (tiled) {
                const int32_t *tile = job->key_tiles + ((kvh * bph + b) * ntiles + j0 / 16) * LK_ATTN_TILE_DWORDS;
                for (int p = 0; p < 16; p++) r[p] = _mm512_loadu_si512(tile + 16 * p);
                ke = _mm512_loadu_si512(tile + 256);
            } else {
                lka_key_tile(c, kvh * bph + b, j0, n - 1, r, &ke);
            }
            for (int64_t gi = 0; gi < g; gi++) {
                const int64_t gb = gi * bph + b;
                __m512i h = _mm512_setzero_si512(), l = _mm512_setzero_si512();
#pragma clang loop unroll(full)
                for (int p = 0; p < 16; p++) {
                    h = _mm512_add_epi32(h, _mm512_madd_epi16(r[p], _mm512_set1_epi32(qpair_h[gb][p])));
                    l = _mm512_add_epi32(l, _mm512_madd_epi16(r[p], _mm512_set1_epi32(qpair_l[gb][p])));
                }
                __m512i h0 = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(h)), h1 = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(h, 1));
                __m512i l0 = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(l)), l1 = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(l, 1));
                lo_i[gb] = _mm512_add_epi64(_mm512_slli_epi64(h0, 8), l0);
                hi_i[gb] = _mm512_add_epi64(_mm512_slli_epi64(h1, 8), l1);
                ex[gb] = _mm512_add_epi32(ke, _mm512_set1_epi32(qe[gb]));
            }
        }
        for (int64_t gi = 0; gi < g; gi++) {
            /* exponent range over the non-zero terms */
            __m512i emin = _mm512_set1_epi32(INT32_MAX), emax = _mm512_set1_epi32(INT32_MIN);
            for (int64_t b = 0; b < bph; b++) {
                const int64_t gb = gi * bph + b;
                __mmask16 nz = (__mmask16)(_mm512_test_epi64_mask(lo_i[gb], lo_i[gb]) |
                                           ((__mmask16)_mm512_test_epi64_mask(hi_i[gb], hi_i[gb]) << 8));
                emin = _mm512_mask_min_epi32(emin, nz, emin, ex[gb]);
                emax = _mm512_mask_max_epi32(emax, nz, emax, ex[gb]);
            }
            __mmask16 zero = _mm512_cmpeq_epi32_mask(emin, _mm512_set1_epi32(INT32_MAX));
            __m512i base = _mm512_mask_mov_epi32(emin, zero, _mm512_setzero_si512());
            __mmask16 bad = _mm512_mask_cmpgt_epi32_mask(~zero, _mm512_sub_epi32(emax, emin), _mm512_set1_epi32(qk_spread));
            bad |= _mm512_cmpgt_epi32_mask(_mm512_abs_epi32(base), _mm512_set1_epi32(1000));
            __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
            for (int64_t b = 0; b < bph; b++) {
                const int64_t gb = gi * bph + b;
                __m512i sh = _mm512_max_epi32(_mm512_min_epi32(_mm512_sub_epi32(ex[gb], base), _mm512_set1_epi32(62)), _mm512_setzero_si512());
                acc0 = _mm512_add_epi64(acc0, _mm512_sllv_epi64(lo_i[gb], _mm512_cvtepi32_epi64(_mm512_castsi512_si256(sh))));
                acc1 = _mm512_add_epi64(acc1, _mm512_sllv_epi64(hi_i[gb], _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(sh, 1))));
            }
            /* one rounding int64 → binary32, then an exact scaling by 2^base (in binary64) */
            __m512i bb = _mm512_max_epi32(_mm512_min_epi32(base, _mm512_set1_epi32(1000)), _mm512_set1_epi32(-1000));
            __m512d p0 = _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_add_epi64(_mm512_cvtepi32_epi64(_mm512_castsi512_si256(bb)), _mm512_set1_epi64(1023)), 52));
            __m512d p1 = _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_add_epi64(_mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(bb, 1)), _mm512_set1_epi64(1023)), 52));
            __mmask8 nz0, nz1, tiny0, tiny1;
            const __m256 v0 = lka_round_scale8(acc0, p0, &nz0, &tiny0), v1 = lka_round_scale8(acc1, p1, &nz1, &tiny1);
            bad |= (__mmask16)((tiny0 & nz0) | ((__mmask16)(tiny1 & nz1) << 8));
            const __m512 v = _mm512_mul_ps(_mm512_insertf32x8(_mm512_castps256_ps512(v0), v1, 1), vscale);
            float *out = sc + gi * stride;
            const __mmask16 live = (__mmask16)lk_first_lanes(n - j0);
            _mm512_mask_storeu_ps(out + j0, (__mmask16)(live & ~bad), v);
            for (uint32_t todo = (uint32_t)(live & bad); todo; todo &= todo - 1) {
                const int64_t j = j0 + __builtin_ctz(todo);
                lk_stat_add(3, 1);
                lk_exact a;
                lk_exact_clear(&a);
                for (int64_t b = 0; b < bph; b++) {
                    const int16_t *k = c->keys + (j * kvstride + kvh * bph + b) * 32;
                    const int16_t *q = qv + (gi * bph + b) * 32;
                    int64_t d = 0;
                    for (int e = 0; e < 32; e++) d += (int32_t)q[e] * k[e];
                    lk_exact_add(&a, d, (int64_t)qe[gi * bph + b] + c->key_exponents[j * kvstride + kvh * bph + b]);
                }
                out[j] = lk_exact_round(&a) * c->scale;
            }
        }
    }
}

/* lka_scores, one copy with the job's key tiles and one without. Returns 0 if the shape is not
   handled here (g·bph > LKA_MAX_QBLOCKS: the caller then uses the portable code). */
int lk_attn_scores_avx512(const lk_attention_job *job, const int16_t *qv, const int32_t *qe, int64_t g, int64_t kvh,
                          int64_t n, float *sc, int64_t stride) {
    if (g * ((job->cache->head_dim + 31) / 32) > LKA_MAX_QBLOCKS) return 0;
    if (job->key_tiles) lka_scores(job, qv, qe, g, kvh, n, sc, stride, 1);
    else lka_scores(job, qv, qe, g, kvh, n, sc, stride, 0);
    return 1;
}

/*
 * P·V for one 32-lane output block `cb` of `G` (1–4) heads whose terms all fall in one int64
 * window (exponent spread ≤ W, see attention_task): acc_gd = Σ_j (p_j·v_jd) << s_j, exact.
 * vcol[j] is the exponent of position j's value block cb (the call's column, see lk_attention).
 * Positions outer, heads inner: each value block is widened once for the whole group; when
 * p_j·2^s_j fits 31 bits the shift is folded into the multiplier.
 */
LK_INLINE void lka_pv(const lk_attention_cache *c, const int16_t *pv, const int32_t *pe, const int32_t *vcol, int64_t nbp,
                      int64_t kvh, int64_t n, int64_t cb, const int64_t *emins, int64_t *win, int64_t maxwin, const int G) {
    const int64_t bph = (c->head_dim + 31) / 32, kvstride = c->kv_heads * bph;
    __m512i acc[4][4];
    for (int gi = 0; gi < G; gi++)
        for (int k = 0; k < 4; k++) acc[gi][k] = _mm512_setzero_si512();
    for (int64_t j = 0; j < n; j++) {
        const int16_t *vv = c->values + (j * kvstride + kvh * bph + cb) * 32;
        if (j + 8 < n) _mm_prefetch((const char *)(vv + 8 * kvstride * 32), _MM_HINT_T0);
        const int32_t ve = vcol[j];
        int any = 0;
#pragma clang loop unroll(full)
        for (int gi = 0; gi < G; gi++) any |= pv[gi * nbp * 32 + j];
        if (!any) continue;
        __m512i w0 = _mm512_cvtepi16_epi64(_mm_loadu_si128((const __m128i *)vv));
        __m512i w1 = _mm512_cvtepi16_epi64(_mm_loadu_si128((const __m128i *)(vv + 8)));
        __m512i w2 = _mm512_cvtepi16_epi64(_mm_loadu_si128((const __m128i *)(vv + 16)));
        __m512i w3 = _mm512_cvtepi16_epi64(_mm_loadu_si128((const __m128i *)(vv + 24)));
        /* unrolled, so that the accumulators stay in registers */
#pragma clang loop unroll(full)
        for (int gi = 0; gi < G; gi++) {
            /* A zero probability adds a zero term, whatever its shift (a zero's exponent may lie
               outside the window, hence the shift taken mod 64): cheaper than a branch, which
               the scattered zeros mispredict. */
            const int32_t pj = pv[gi * nbp * 32 + j];
            const int s = (int)((int64_t)pe[gi * nbp + (j >> 5)] + ve - emins[gi]);
            if (s <= 15) {
                const __m512i m = _mm512_set1_epi64((int64_t)pj * (int64_t)(UINT64_C(1) << (s & 63)));
                acc[gi][0] = _mm512_add_epi64(acc[gi][0], _mm512_mul_epi32(w0, m));
                acc[gi][1] = _mm512_add_epi64(acc[gi][1], _mm512_mul_epi32(w1, m));
                acc[gi][2] = _mm512_add_epi64(acc[gi][2], _mm512_mul_epi32(w2, m));
                acc[gi][3] = _mm512_add_epi64(acc[gi][3], _mm512_mul_epi32(w3, m));
            } else {
                const __m512i m = _mm512_set1_epi64(pj);
                const __m128i sc = _mm_cvtsi32_si128(s);
                acc[gi][0] = _mm512_add_epi64(acc[gi][0], _mm512_sll_epi64(_mm512_mul_epi32(w0, m), sc));
                acc[gi][1] = _mm512_add_epi64(acc[gi][1], _mm512_sll_epi64(_mm512_mul_epi32(w1, m), sc));
                acc[gi][2] = _mm512_add_epi64(acc[gi][2], _mm512_sll_epi64(_mm512_mul_epi32(w2, m), sc));
                acc[gi][3] = _mm512_add_epi64(acc[gi][3], _mm512_sll_epi64(_mm512_mul_epi32(w3, m), sc));
            }
        }
    }
    for (int gi = 0; gi < G; gi++)
        for (int k = 0; k < 4; k++) _mm512_storeu_si512(win + gi * 32 * maxwin + 8 * k, acc[gi][k]);
}

/* Returns 0 when the group is not handled here (more than 4 heads). */
int lk_attn_pv_avx512(const lk_attention_cache *c, const int16_t *pv, const int32_t *pe, const int32_t *vcol, int64_t g,
                      int64_t nbp, int64_t kvh, int64_t n, int64_t cb, const int64_t *emins, int64_t *win, int64_t maxwin) {
    switch (g) {
    case 1: lka_pv(c, pv, pe, vcol, nbp, kvh, n, cb, emins, win, maxwin, 1); return 1;
    case 2: lka_pv(c, pv, pe, vcol, nbp, kvh, n, cb, emins, win, maxwin, 2); return 1;
    case 3: lka_pv(c, pv, pe, vcol, nbp, kvh, n, cb, emins, win, maxwin, 3); return 1;
    case 4: lka_pv(c, pv, pe, vcol, nbp, kvh, n, cb, emins, win, maxwin, 4); return 1;
    default: return 0;
    }
}

/*
 * Exponent range of one head's non-zero P·V terms in a value column block: the min (*lo) and
 * max (*hi) of pex[j/32] + vcol[j] over j < n with p[j] ≠ 0 (INT32_MAX / INT32_MIN when none).
 */
void lk_attn_term_range_avx512(const int16_t *p, const int32_t *pex, const int32_t *vcol, int64_t n, int32_t *lo,
                               int32_t *hi) {
    __m512i vlo = _mm512_set1_epi32(INT32_MAX), vhi = _mm512_set1_epi32(INT32_MIN);
    for (int64_t j0 = 0; j0 < n; j0 += 16) {   /* 16 positions share one probability block */
        const __mmask16 live = (__mmask16)lk_first_lanes(n - j0);
        const __m512i pj = _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(live, p + j0));
        const __mmask16 nz = _mm512_mask_test_epi32_mask(live, pj, pj);
        const __m512i e = _mm512_add_epi32(_mm512_maskz_loadu_epi32(live, vcol + j0), _mm512_set1_epi32(pex[j0 >> 5]));
        vlo = _mm512_mask_min_epi32(vlo, nz, vlo, e);
        vhi = _mm512_mask_max_epi32(vhi, nz, vhi, e);
    }
    *lo = _mm512_reduce_min_epi32(vlo);
    *hi = _mm512_reduce_max_epi32(vhi);
}

/*
 * out[i] = acc[i]·2^emin as binary32 for the lanes i < `lanes` (≤ 32) where `lk_finish` would
 * give it: one rounding int64 → binary32, an exact scaling in binary64. Returns the mask of the
 * lanes it leaves to the caller (a subnormal result, or |emin| > 1000: all non-zero lanes).
 */
uint32_t lk_attn_finish_avx512(const int64_t *acc, int64_t emin, int64_t lanes, float *out) {
    const uint32_t all = lk_first_lanes(lanes);
    const int wide = emin < -1000 || emin > 1000;
    const __m512d scale = _mm512_set1_pd(lk_pow2d(wide ? 0 : emin));
    uint32_t pending = 0;
    for (int k = 0; k < 4 && 8 * k < lanes; k++) {
        const __mmask8 live = (__mmask8)(all >> (8 * k));
        __mmask8 nonzero, tiny;
        const __m256 v = lka_round_scale8(_mm512_maskz_loadu_epi64(live, acc + 8 * k), scale, &nonzero, &tiny);
        const __mmask8 left = wide ? nonzero : (__mmask8)(tiny & nonzero);
        _mm256_mask_storeu_ps(out + 8 * k, (__mmask8)(live & ~left), v);
        pending |= (uint32_t)left << (8 * k);
    }
    return pending;
}

#pragma clang attribute pop
#endif
