/*
 * Arithmetic in GF(p), p = 2^127 − 1 (a Mersenne prime), for the Freivalds audit (SPEC §8.5).
 *
 * Elements are canonical representatives below p in an unsigned 128-bit integer. Reduction uses
 * 2^127 ≡ 1: v ≡ (v mod 2^127) + ⌊v / 2^127⌋. Multiplication by 2^e is a rotation of the 127
 * bits, for negative e too (2^−1 ≡ 2^126), which is how dyadic rationals a·2^e enter the field.
 *
 * Sums of a field element times a small integer (a weight or an activation integer) are
 * accumulated exactly in signed 128-bit integers, split into the element's low and high 64-bit
 * words, and reduced once at the end: |word · q| < 2^64 · 2^15, so 2^48 such terms fit.
 */
#include "lockstep_audit.h"
#include "lk_internal.h"
#include <stdlib.h>

typedef __int128 i128;
typedef unsigned __int128 u128;

#define M127_P ((((u128)1) << 127) - 1)

static inline u128 m_get(lk_m127 a) { return ((u128)a.hi << 64) | a.lo; }
static inline lk_m127 m_put(u128 v) { lk_m127 r = {(uint64_t)v, (uint64_t)(v >> 64)}; return r; }

/* Any 128-bit unsigned value → canonical. */
static inline u128 m_red(u128 v) {
    v = (v & M127_P) + (v >> 127);       /* ≤ p + 1 */
    if (v >= M127_P) v -= M127_P;
    return v;
}

static inline u128 m_add(u128 a, u128 b) { return m_red(a + b); }   /* a + b < 2^128 */

static inline u128 m_neg(u128 a) { return a == 0 ? 0 : M127_P - a; }

/* Signed 128-bit value → canonical. */
static inline u128 m_from_signed(i128 s) {
    u128 m = s < 0 ? (u128)0 - (u128)s : (u128)s;
    m = m_red(m);
    return s < 0 ? m_neg(m) : m;
}

static inline u128 m_rot(u128 v, int64_t e) {
    int64_t k = e % 127;
    if (k < 0) k += 127;
    if (k == 0) return v;
    return ((v << k) | (v >> (127 - k))) & M127_P;
}

static inline u128 m_mul(u128 a, u128 b) {
    uint64_t a0 = (uint64_t)a, a1 = (uint64_t)(a >> 64), b0 = (uint64_t)b, b1 = (uint64_t)(b >> 64);
    u128 p00 = (u128)a0 * b0;
    u128 mid = (u128)a0 * b1 + (u128)a1 * b0;      /* each < 2^127 */
    u128 p11 = (u128)a1 * b1;                       /* < 2^126 */
    /* a·b = p00 + mid·2^64 + p11·2^128, and 2^128 ≡ 2. */
    u128 s = m_red(p00);
    s = m_add(s, m_red((u128)(uint64_t)mid << 64));
    s = m_add(s, m_red(((u128)(uint64_t)(mid >> 64)) << 1));
    s = m_add(s, m_red(p11 << 1));
    return s;
}

/* Low word accumulator + high word accumulator·2^64 → canonical. */
static inline u128 m_from_split(i128 lo, i128 hi) {
    return m_add(m_from_signed(lo), m_rot(m_from_signed(hi), 64));
}

lk_m127 lk_m127_add(lk_m127 a, lk_m127 b) { return m_put(m_add(m_get(a), m_get(b))); }
lk_m127 lk_m127_sub(lk_m127 a, lk_m127 b) { return m_put(m_add(m_get(a), m_neg(m_get(b)))); }
lk_m127 lk_m127_mul(lk_m127 a, lk_m127 b) { return m_put(m_mul(m_get(a), m_get(b))); }
lk_m127 lk_m127_pow2(lk_m127 a, int64_t e) { return m_put(m_rot(m_get(a), e)); }
lk_m127 lk_m127_reduce(uint64_t lo, uint64_t hi) { return m_put(m_red(((u128)hi << 64) | lo)); }

static inline u128 m_dyadic(uint64_t lo, uint64_t hi, int64_t e) {
    return m_rot(m_from_signed((i128)(((u128)hi << 64) | lo)), e);
}

lk_m127 lk_m127_dyadic(uint64_t sig_lo, uint64_t sig_hi, int64_t exp) { return m_put(m_dyadic(sig_lo, sig_hi, exp)); }

static int64_t m_block_bytes(int format) { return format == LK_Q8_0 ? 34 : format == LK_Q4_0 ? 18 : 20; }

void lk_m127_left_combination(int format, const uint8_t *w, int64_t rows, int64_t nb, const lk_m127 *c, lk_m127 *u) {
    const int64_t K = nb * 32, bb = m_block_bytes(format);
    if (nb <= 0) return;
    i128 *acc = calloc((size_t)(2 * K + 2 * nb), sizeof(i128));   /* low words, high words; Q4_1 offsets */
    i128 *lo = acc, *hi = acc + K, *mlo = acc + 2 * K, *mhi = mlo + nb;
    for (int64_t r = 0; r < rows; r++) {
        const u128 cr = m_get(c[r]);
        const uint8_t *row = w + r * nb * bb;
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *blk = row + b * bb;
            int32_t sig, ex;
            lk_half_split(lk_load_u16(blk), &sig, &ex);
            if (format == LK_Q4_1) {
                int32_t ms, me;
                lk_half_split(lk_load_u16(blk + 2), &ms, &me);
                if (ms != 0) {
                    u128 rm = m_rot(m_mul(cr, m_from_signed(ms)), me);
                    mlo[b] += (i128)(uint64_t)rm;
                    mhi[b] += (i128)(uint64_t)(rm >> 64);
                }
            }
            if (sig == 0) continue;
            const u128 rho = m_rot(m_mul(cr, m_from_signed(sig)), ex);
            const i128 r0 = (i128)(uint64_t)rho, r1 = (i128)(uint64_t)(rho >> 64);
            i128 *l = lo + b * 32, *h = hi + b * 32;
            switch (format) {
            case LK_Q8_0: {
                const int8_t *q = (const int8_t *)(blk + 2);
                for (int j = 0; j < 32; j++) { l[j] += r0 * q[j]; h[j] += r1 * q[j]; }
                break;
            }
            case LK_Q4_0: {
                const uint8_t *q = blk + 2;
                for (int j = 0; j < 16; j++) {
                    const int lq = (q[j] & 0xF) - 8, hq = (q[j] >> 4) - 8;
                    l[j] += r0 * lq; h[j] += r1 * lq;
                    l[j + 16] += r0 * hq; h[j + 16] += r1 * hq;
                }
                break;
            }
            default: {
                const uint8_t *q = blk + 4;
                for (int j = 0; j < 16; j++) {
                    const int lq = q[j] & 0xF, hq = q[j] >> 4;
                    l[j] += r0 * lq; h[j] += r1 * lq;
                    l[j + 16] += r0 * hq; h[j + 16] += r1 * hq;
                }
                break;
            }
            }
        }
    }
    for (int64_t b = 0; b < nb; b++) {
        const u128 offset = format == LK_Q4_1 ? m_from_split(mlo[b], mhi[b]) : 0;
        for (int j = 0; j < 32; j++) {
            const int64_t k = b * 32 + j;
            u[k] = m_put(m_add(m_from_split(lo[k], hi[k]), offset));
        }
    }
    free(acc);
}

void lk_m127_apply_activations(const lk_m127 *u, int64_t nb, const int16_t *xv, const int32_t *xe, int64_t T, lk_m127 *out) {
    for (int64_t t = 0; t < T; t++) {
        u128 sum = 0;
        for (int64_t b = 0; b < nb; b++) {
            const int64_t xb = t * nb + b;
            const int16_t *s = xv + xb * 32;
            const lk_m127 *ub = u + b * 32;
            i128 l = 0, h = 0;
            for (int j = 0; j < 32; j++) {
                l += (i128)ub[j].lo * s[j];
                h += (i128)ub[j].hi * s[j];
            }
            sum = m_add(sum, m_rot(m_from_split(l, h), xe[xb]));
        }
        out[t] = m_put(sum);
    }
}

void lk_m127_combine_certificate(const lk_m127 *c, int64_t rows, const uint64_t *sig, const int32_t *exp, int64_t T,
                                 const uint8_t *skip, lk_m127 *out) {
    for (int64_t t = 0; t < T; t++) {
        u128 sum = 0;
        if (!(skip && skip[t])) {
            for (int64_t r = 0; r < rows; r++) {
                const int64_t i = t * rows + r;
                const uint64_t lo = sig[2 * i], hi = sig[2 * i + 1];
                if ((lo | hi) == 0) continue;
                sum = m_add(sum, m_mul(m_get(c[r]), m_dyadic(lo, hi, exp[i])));
            }
        }
        out[t] = m_put(sum);
    }
}
