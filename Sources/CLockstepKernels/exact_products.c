/*
 * Exact, unrounded matrix products: the certificate an audited backend states for its products
 * (SPEC §8.5). Not a hot kernel: a plain loop over outputs, run only for the sampled products.
 *
 * Output (r, t) is Σ_b T_b·2^(E_b) with integer terms T_b = sig(d_rb)·I_rtb (and, for Q4_1,
 * sig(m_rb)·S_tb) as SPEC §2.3 writes them. When the exponents of the non-zero terms span few
 * enough octaves, the terms are aligned at the smallest exponent and added in a signed 128-bit
 * integer (the bound below keeps every partial sum in range); otherwise they go through the
 * wide exact accumulator of exact.c, whose value is then read back as a 127-bit significand and
 * an exponent when it fits.
 */
#include "lk_internal.h"
#include "lockstep_audit.h"
#include <stdlib.h>

typedef __int128 lk_i128;
typedef unsigned __int128 lk_u128;

static int64_t lk_ep_block_bytes(int format) { return format == LK_Q8_0 ? 34 : format == LK_Q4_0 ? 18 : 20; }

static int lk_ep_ceil_log2(int64_t n) {
    int k = 0;
    while (((int64_t)1 << k) < n) k++;
    return k;
}

static void lk_ep_store(uint64_t *sig, int32_t *exp, uint8_t *ok, int64_t i, lk_i128 s, int64_t e, int good) {
    lk_u128 u = (lk_u128)s;
    sig[2 * i] = (uint64_t)u;
    sig[2 * i + 1] = (uint64_t)(u >> 64);
    exp[i] = (int32_t)e;
    ok[i] = (uint8_t)good;
}

/* Reads the exact accumulator back as sig·2^exp; returns 0 when the significand needs more than
   127 bits. */
static int lk_ep_read_wide(const lk_exact *a, lk_i128 *sig, int64_t *exp) {
    uint32_t d[LK_EXACT_LIMBS];
    const int negative = lk_exact_magnitude(a, d);
    int lo = 0, hi = LK_EXACT_LIMBS - 1;
    while (lo < LK_EXACT_LIMBS && d[lo] == 0) lo++;
    if (lo == LK_EXACT_LIMBS) { *sig = 0; *exp = 0; return 1; }
    while (d[hi] == 0) hi--;
    int64_t lo_bit = 32 * (int64_t)lo + __builtin_ctz(d[lo]);
    int64_t hi_bit = 32 * (int64_t)hi + 31 - __builtin_clz(d[hi]);
    if (hi_bit - lo_bit + 1 > 127) return 0;
    lk_u128 m = 0;
    for (int i = lo; i <= hi; i++) {
        int64_t off = 32 * (int64_t)i - lo_bit;
        if (off >= 0) m |= (lk_u128)d[i] << off;
        else m |= (lk_u128)(d[i] >> (-off));
    }
    *sig = negative ? -(lk_i128)m : (lk_i128)m;
    *exp = LK_EXACT_MIN_EXP + lo_bit;
    return 1;
}

/* The block integers I[t][b] = Σ_j q[b][j]·x[t][b][j] of one weight row against every activation
   row (|I| < 2^28: no overflow), compiled for AVX-512 and AVX2 as well on x86-64. */
#if defined(LK_X86) && defined(__clang__) && defined(__linux__)
__attribute__((target_clones("avx512bw", "avx2", "default")))
#endif
static void lk_ep_row_dots(const int8_t *restrict wq, const int16_t *restrict xv, int64_t T, int64_t nb, int32_t *restrict out) {
    for (int64_t t = 0; t < T; t++) {
        for (int64_t b = 0; b < nb; b++) {
            const int16_t *s = xv + (t * nb + b) * 32;
            const int8_t *q = wq + b * 32;
            int32_t isum = 0;
            for (int j = 0; j < 32; j++) isum += (int32_t)q[j] * (int32_t)s[j];
            out[t * nb + b] = isum;
        }
    }
}

void lk_exact_products(int format, const uint8_t *w, int64_t rows, int64_t nb, const int16_t *xv,
                       const int32_t *xe, const int32_t *xs, int64_t T, int64_t r0, int64_t r1,
                       uint64_t *sig, int32_t *exp, uint8_t *ok) {
    if (r0 < 0) r0 = 0;
    if (r1 > rows) r1 = rows;
    if (r0 >= r1 || T <= 0) return;
    const int64_t bb = lk_ep_block_bytes(format);
    const int64_t nterms = format == LK_Q4_1 ? 2 * nb : nb;
    /* |T_b| < 2^40 (|sig| < 2^11, |I| < 2^28; Q4_1 offsets: |sig·S| < 2^31). */
    const int64_t fast_span = 126 - 40 - lk_ep_ceil_log2(nterms > 0 ? nterms : 1);
    int8_t *wq = malloc((size_t)(nb > 0 ? nb : 1) * 32);
    int32_t *dsig = malloc((size_t)(nb > 0 ? nb : 1) * 4 * sizeof(int32_t));
    int32_t *dexp = dsig + nb, *msig = dexp + nb, *mexp = msig + nb;
    int64_t *tv = malloc((size_t)(nterms > 0 ? nterms : 1) * sizeof(int64_t));
    int64_t *te = malloc((size_t)(nterms > 0 ? nterms : 1) * sizeof(int64_t));
    int32_t *dots = malloc((size_t)(T * (nb > 0 ? nb : 1)) * sizeof(int32_t));
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = w + r * nb * bb;
        /* Unpack the row: integer weights and the split scales. */
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *blk = row + b * bb;
            int8_t *q = wq + b * 32;
            lk_half_split(lk_load_u16(blk), &dsig[b], &dexp[b]);
            msig[b] = 0; mexp[b] = 0;
            switch (format) {
            case LK_Q8_0:
                for (int j = 0; j < 32; j++) q[j] = (int8_t)blk[2 + j];
                break;
            case LK_Q4_0:
                for (int j = 0; j < 16; j++) {
                    q[j] = (int8_t)((blk[2 + j] & 0xF) - 8);
                    q[j + 16] = (int8_t)((blk[2 + j] >> 4) - 8);
                }
                break;
            default:
                for (int j = 0; j < 16; j++) {
                    q[j] = (int8_t)(blk[4 + j] & 0xF);
                    q[j + 16] = (int8_t)(blk[4 + j] >> 4);
                }
                lk_half_split(lk_load_u16(blk + 2), &msig[b], &mexp[b]);
                break;
            }
        }
        lk_ep_row_dots(wq, xv, T, nb, dots);
        for (int64_t t = 0; t < T; t++) {
            int64_t n = 0, emin = INT64_MAX, emax = INT64_MIN;
            for (int64_t b = 0; b < nb; b++) {
                const int64_t xb = t * nb + b;
                int64_t v = (int64_t)dsig[b] * dots[xb];
                if (v != 0) {
                    int64_t e = (int64_t)dexp[b] + xe[xb];
                    tv[n] = v; te[n] = e; n++;
                    if (e < emin) emin = e;
                    if (e > emax) emax = e;
                }
                if (format == LK_Q4_1) {
                    int64_t m = (int64_t)msig[b] * xs[xb];
                    if (m != 0) {
                        int64_t e = (int64_t)mexp[b] + xe[xb];
                        tv[n] = m; te[n] = e; n++;
                        if (e < emin) emin = e;
                        if (e > emax) emax = e;
                    }
                }
            }
            const int64_t i = t * rows + r;
            if (n == 0) { lk_ep_store(sig, exp, ok, i, 0, 0, 1); continue; }
            if (emax - emin <= fast_span) {
                lk_i128 acc = 0;
                for (int64_t k = 0; k < n; k++) acc += (lk_i128)tv[k] * ((lk_i128)1 << (te[k] - emin));
                lk_ep_store(sig, exp, ok, i, acc, acc == 0 ? 0 : emin, 1);
            } else {
                lk_exact a;
                lk_exact_clear(&a);
                for (int64_t k = 0; k < n; k++) lk_exact_add(&a, tv[k], te[k]);
                lk_i128 s = 0;
                int64_t e = 0;
                int good = !a.out_of_range && lk_ep_read_wide(&a, &s, &e);
                lk_ep_store(sig, exp, ok, i, good ? s : 0, good ? e : 0, good);
            }
        }
    }
    free(wq);
    free(dsig);
    free(tv);
    free(te);
    free(dots);
}
