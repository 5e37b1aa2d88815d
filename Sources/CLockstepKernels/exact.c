/* The exact accumulator and the general (slow, always exact) matmul output. */
#include "lk_internal.h"

_Atomic uint64_t lk_stat_counters[4];

void lk_stats(uint64_t out[4]) {
    for (int i = 0; i < 4; i++) out[i] = atomic_load_explicit(&lk_stat_counters[i], memory_order_relaxed);
}

void lk_stats_reset(void) {
    for (int i = 0; i < 4; i++) atomic_store_explicit(&lk_stat_counters[i], 0, memory_order_relaxed);
}

void lk_exact_add(lk_exact *a, int64_t value, int64_t exponent) {
    if (value == 0) return;
    if (exponent < LK_EXACT_MIN_EXP || exponent > LK_EXACT_MAX_TERM_EXP) { a->out_of_range = 1; return; }
    int64_t off = exponent - LK_EXACT_MIN_EXP;
    int64_t idx = off >> 5;
    int sh = (int)(off & 31);
    int64_t lo = value & 0xFFFFFFFFll;                   /* 0 ..< 2^32 */
    int64_t hi = value >> 32;                            /* |hi| < 2^30 */
    int64_t los = lo << sh;                              /* < 2^63 */
    int64_t his = (int64_t)((uint64_t)hi << sh);         /* |·| < 2^61 */
    a->limb[idx] += los & 0xFFFFFFFFll;
    a->limb[idx + 1] += (los >> 32) + (his & 0xFFFFFFFFll);
    a->limb[idx + 2] += his >> 32;
}

int lk_exact_magnitude(const lk_exact *a, uint32_t d[LK_EXACT_LIMBS]) {
    int64_t carry = 0;
    for (int i = 0; i < LK_EXACT_LIMBS; i++) {
        int64_t v = a->limb[i] + carry;
        d[i] = (uint32_t)v;
        carry = v >> 32;
    }
    if (carry >= 0) return 0;
    uint64_t c = 1;
    for (int i = 0; i < LK_EXACT_LIMBS; i++) {
        uint64_t v = (uint64_t)(~d[i]) + c;
        d[i] = (uint32_t)v;
        c = v >> 32;
    }
    return 1;
}

float lk_exact_round(const lk_exact *a) {
    if (a->out_of_range) return __builtin_nanf("");
    uint32_t d[LK_EXACT_LIMBS];
    const int negative = lk_exact_magnitude(a, d);
    int top = LK_EXACT_LIMBS - 1;
    while (top >= 0 && d[top] == 0) top--;
    if (top < 0) return 0.0f;
    int top_bit = 31 - __builtin_clz(d[top]);
    int64_t p = LK_EXACT_MIN_EXP + 32 * (int64_t)top + top_bit;   /* exponent of the leading bit */
    if (p > 127) return negative ? -__builtin_inff() : __builtin_inff();
    int64_t lsb = p - 23 > -149 ? p - 23 : -149;                    /* exponent of the last kept bit */
#define LK_BIT(e) ((((e) - LK_EXACT_MIN_EXP) < 0) ? 0u : ((d[((e) - LK_EXACT_MIN_EXP) >> 5] >> (((e) - LK_EXACT_MIN_EXP) & 31)) & 1u))
    uint32_t mantissa = 0;
    for (int64_t e = p; e >= lsb; e--) mantissa = (mantissa << 1) | LK_BIT(e);
    uint32_t round_bit = LK_BIT(lsb - 1);
    int sticky = 0;
    int64_t sticky_top = lsb - 2 - LK_EXACT_MIN_EXP;                /* bits at offsets 0 … sticky_top */
    if (sticky_top >= 0) {
        int64_t full = (sticky_top + 1) >> 5;
        for (int64_t i = 0; i < full; i++) if (d[i] != 0) { sticky = 1; break; }
        int rem = (int)((sticky_top + 1) & 31);
        if (!sticky && rem > 0 && (d[full] & ((1u << rem) - 1)) != 0) sticky = 1;
    }
#undef LK_BIT
    if (round_bit && (sticky || (mantissa & 1))) mantissa += 1;
    int64_t exponent = lsb;
    if (mantissa == (1u << 24)) { mantissa = 1u << 23; exponent += 1; }
    if (mantissa != 0 && exponent + 31 - __builtin_clz(mantissa) > 127)
        return negative ? -__builtin_inff() : __builtin_inff();
    uint32_t bits;
    if (mantissa >= (1u << 23)) bits = (uint32_t)(exponent + 23 + 127) << 23 | (mantissa & 0x7FFFFF);
    else bits = mantissa;
    if (negative) bits |= 0x80000000u;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float lk_mm_exact_one(const lk_mm_ctx *c, int64_t r, int64_t t) {
    lk_exact acc;
    lk_exact_clear(&acc);
    const uint8_t *row = c->w + r * c->row_bytes;
    for (int64_t b = 0; b < c->nb; b++) {
        const uint8_t *blk = row + b * c->bb;
        int64_t xb = t * c->nb + b;
        const int16_t *s = c->xv + xb * 32;
        int32_t e = c->xe[xb];
        int32_t dsig, dexp;
        lk_half_split(lk_load_u16(blk), &dsig, &dexp);
        uint32_t isum = 0;   /* wrapping int32 arithmetic, as the reference */
        switch (c->format) {
        case LK_Q8_0: {
            const int8_t *q = (const int8_t *)(blk + 2);
            for (int j = 0; j < 32; j++) isum += (uint32_t)((int32_t)q[j] * (int32_t)s[j]);
            break;
        }
        case LK_Q4_0: {
            const uint8_t *q = blk + 2;
            for (int j = 0; j < 16; j++) {
                isum += (uint32_t)(((int32_t)(q[j] & 0xF) - 8) * (int32_t)s[j]);
                isum += (uint32_t)(((int32_t)(q[j] >> 4) - 8) * (int32_t)s[j + 16]);
            }
            break;
        }
        default: {
            const uint8_t *q = blk + 4;
            for (int j = 0; j < 16; j++) {
                isum += (uint32_t)((int32_t)(q[j] & 0xF) * (int32_t)s[j]);
                isum += (uint32_t)((int32_t)(q[j] >> 4) * (int32_t)s[j + 16]);
            }
            int32_t msig, mexp;
            lk_half_split(lk_load_u16(blk + 2), &msig, &mexp);
            lk_exact_add(&acc, (int64_t)msig * (int64_t)c->xs[xb], (int64_t)mexp + e);
            break;
        }
        }
        lk_exact_add(&acc, (int64_t)dsig * (int64_t)(int32_t)isum, (int64_t)dexp + e);
    }
    return lk_exact_round(&acc);
}
