/*
 * Arithmetic in GF(p), p = 2^127 − 1 (a Mersenne prime), for the Freivalds audit (SPEC §8.5).
 *
 * Elements are canonical representatives below p in an unsigned 128-bit integer. Reduction uses
 * 2^127 ≡ 1: v ≡ (v mod 2^127) + ⌊v / 2^127⌋. Multiplication by 2^e is a rotation of the 127
 * bits, for negative e too (2^−1 ≡ 2^126), which is how dyadic rationals a·2^e enter the field.
 *
 * Sums of a field element times a small integer (a weight or an activation integer) are
 * accumulated exactly without reduction and reduced once at the end (see each function).
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

/*
 * u = cᵀφ(W). Weight (r, 32b + j) is σ_d·v_j·2^(ε_d) (+ σ_m·2^(ε_m) for Q4_1), with the block
 * integer v_j written as an unsigned byte a_j minus a bias: Q8_0 a = v + 128, Q4_0 a = v + 8 (the
 * nibble), Q4_1 a = v. With ρ = c_r·φ(σ_d·2^(ε_d)) (one field multiplication per block),
 * u_k = Σ_r ρ·a_j − bias·Σ_r ρ (+ Σ_r c_r·φ(σ_m·2^(ε_m))). The sums Σ_r ρ·a_j are exact in four
 * 64-bit accumulators per column, one per 32-bit limb of ρ: each term is below 2^32·2^8, so 2^24
 * rows fit; longer matrices are taken in chunks of 2^24 rows.
 */
#define M127_CHUNK (((int64_t)1) << 24)

static inline uint64_t m_limb(u128 v, int i) { return (uint64_t)(uint32_t)(v >> (32 * i)); }

/* acc[j] += l·a[j] for 32 columns: the inner loop, compiled for AVX-512 and AVX2 as well
   (64-bit lanes, vpmuludq) and picked at load time on x86-64. */
#if defined(LK_X86) && defined(__clang__) && defined(__linux__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void m_axpy32(uint64_t *restrict acc, uint32_t l, const uint8_t *restrict a) {
    for (int j = 0; j < 32; j++) acc[j] += (uint64_t)l * a[j];
}

static void m_left_chunk(int format, const uint8_t *w, int64_t r0, int64_t r1, int64_t nb, int64_t bb, const lk_m127 *c,
                         uint64_t *acc, u128 *bsum, u128 *msum) {
    const int64_t K = nb * 32;
    uint8_t a[32];
    for (int64_t r = r0; r < r1; r++) {
        const u128 cr = m_get(c[r]);
        const uint8_t *row = w + r * nb * bb;
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *blk = row + b * bb;
            int32_t sig, ex;
            lk_half_split(lk_load_u16(blk), &sig, &ex);
            if (format == LK_Q4_1) {
                int32_t ms, me;
                lk_half_split(lk_load_u16(blk + 2), &ms, &me);
                if (ms != 0) msum[b] = m_add(msum[b], m_rot(m_mul(cr, m_from_signed(ms)), me));
            }
            if (sig == 0) continue;
            const u128 rho = m_rot(m_mul(cr, m_from_signed(sig)), ex);
            bsum[b] = m_add(bsum[b], rho);
            switch (format) {
            case LK_Q8_0:
                for (int j = 0; j < 32; j++) a[j] = (uint8_t)(blk[2 + j] ^ 0x80);
                break;
            default: {
                const uint8_t *q = blk + (format == LK_Q4_0 ? 2 : 4);
                for (int j = 0; j < 16; j++) { a[j] = q[j] & 0xF; a[j + 16] = q[j] >> 4; }
                break;
            }
            }
            for (int i = 0; i < 4; i++) m_axpy32(acc + i * K + b * 32, (uint32_t)m_limb(rho, i), a);
        }
    }
}

void lk_m127_left_combination(int format, const uint8_t *w, int64_t rows, int64_t nb, const lk_m127 *c, lk_m127 *u) {
    const int64_t K = nb * 32, bb = m_block_bytes(format);
    if (nb <= 0) return;
    uint64_t *acc = malloc((size_t)(4 * K) * sizeof(uint64_t));
    u128 *total = calloc((size_t)(K + 2 * nb), sizeof(u128));      /* per column; per block Σρ, Σ offsets */
    u128 *bsum = total + K, *msum = bsum + nb;
    for (int64_t r0 = 0; r0 < rows; r0 += M127_CHUNK) {
        const int64_t r1 = rows - r0 > M127_CHUNK ? r0 + M127_CHUNK : rows;
        memset(acc, 0, (size_t)(4 * K) * sizeof(uint64_t));
        m_left_chunk(format, w, r0, r1, nb, bb, c, acc, bsum, msum);
        for (int64_t k = 0; k < K; k++)
            for (int i = 0; i < 4; i++) total[k] = m_add(total[k], m_rot(m_red(acc[i * K + k]), 32 * i));
    }
    const u128 bias = format == LK_Q8_0 ? 128 : format == LK_Q4_0 ? 8 : 0;
    for (int64_t b = 0; b < nb; b++) {
        const u128 correction = m_add(m_neg(m_mul(bias, bsum[b])), msum[b]);
        for (int j = 0; j < 32; j++) u[b * 32 + j] = m_put(m_add(total[b * 32 + j], correction));
    }
    free(acc);
    free(total);
}

/* Per block: Σ_j u_j·q_j in signed 128-bit integers for the low and high words of u_j
   (|word·q| < 2^64·2^15, 32 terms), reduced once, then scaled by 2^E. */
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
