/*
 * AArch64 Advanced SIMD matmul kernel. Per block, the 32 weights are widened to int16 once and
 * dotted with each token's activations by widening multiply-accumulates (vmlal_s16, int32 lanes:
 * eight products of at most 2^22 each per lane) and an across-lanes add; the block sums are
 * scaled and added exactly into int64 fixed point as in the other kernels (see matmul.c).
 */
#include "lk_internal.h"
#ifdef LK_ARM64
#include <arm_neon.h>

LK_INLINE void lkn_unpack(const uint8_t *blk, int fmt, int16x8_t *w) {
    if (fmt == LK_Q8_0) {
        int8x16_t a = vld1q_s8((const int8_t *)(blk + 2)), b = vld1q_s8((const int8_t *)(blk + 18));
        w[0] = vmovl_s8(vget_low_s8(a));
        w[1] = vmovl_high_s8(a);
        w[2] = vmovl_s8(vget_low_s8(b));
        w[3] = vmovl_high_s8(b);
        return;
    }
    uint8x16_t q = vld1q_u8(blk + lk_q4_nibbles(fmt));
    uint8x16_t lo = vandq_u8(q, vdupq_n_u8(0x0F)), hi = vshrq_n_u8(q, 4);
    w[0] = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(lo)));
    w[1] = vreinterpretq_s16_u16(vmovl_high_u8(lo));
    w[2] = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(hi)));
    w[3] = vreinterpretq_s16_u16(vmovl_high_u8(hi));
    if (fmt == LK_Q4_0) {
        const int16x8_t eight = vdupq_n_s16(8);
        for (int k = 0; k < 4; k++) w[k] = vsubq_s16(w[k], eight);
    }
}

LK_INLINE int32_t lkn_dot(const int16x8_t *w, const int16_t *s) {
    int32x4_t acc = vdupq_n_s32(0);
    for (int k = 0; k < 4; k++) {
        int16x8_t a = vld1q_s16(s + 8 * k);
        acc = vmlal_s16(acc, vget_low_s16(w[k]), vget_low_s16(a));
        acc = vmlal_high_s16(acc, w[k], a);
    }
    return vaddvq_s32(acc);
}

#define LKN_TT 16   /* tokens per pass over a row */

LK_INLINE void lkn_rows(const lk_mm_ctx *c, int64_t r0, int64_t r1, const int fmt) {
    const int64_t T = c->T, nb = c->nb;
    const uint32_t shmax = (uint32_t)c->shmax;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = c->w + r * c->row_bytes;
        for (int64_t t0 = 0; t0 < T; t0 += LKN_TT) {
            const int64_t tn = T - t0 < LKN_TT ? T - t0 : LKN_TT;
            int64_t acc[LKN_TT], base[LKN_TT];
            int bad[LKN_TT];
            for (int64_t k = 0; k < tn; k++) {
                acc[k] = 0;
                base[k] = (int64_t)c->hints[r] + c->emin[t0 + k];
                bad[k] = !c->tok_ok[t0 + k];
            }
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *blk = row + b * c->bb;
                int16x8_t w[4];
                lkn_unpack(blk, fmt, w);
                int32_t dsig, dexp, msig = 0, mexp = 0;
                lk_half_split(lk_load_u16(blk), &dsig, &dexp);
                if (fmt == LK_Q4_1) lk_half_split(lk_load_u16(blk + 2), &msig, &mexp);
                for (int64_t k = 0; k < tn; k++) {
                    const int64_t t = t0 + k;
                    const int32_t ae = c->ae[b * T + t];
                    if (dsig != 0) {
                        int32_t isum = lkn_dot(w, c->xv + (t * nb + b) * 32);
                        int64_t sh = (int64_t)dexp + ae - base[k];
                        if ((uint64_t)sh > shmax) bad[k] = 1;
                        else acc[k] += (int64_t)((uint64_t)((int64_t)dsig * isum) << sh);
                    }
                    if (fmt == LK_Q4_1 && msig != 0) {
                        int64_t sh = (int64_t)mexp + ae - base[k];
                        if ((uint64_t)sh > shmax) bad[k] = 1;
                        else acc[k] += (int64_t)((uint64_t)((int64_t)msig * c->as[b * T + t]) << sh);
                    }
                }
            }
            for (int64_t k = 0; k < tn; k++) lk_mm_store(c, r, t0 + k, acc[k], base[k], bad[k]);
        }
    }
}

void lk_mm_rows_neon(const lk_mm_ctx *c, int64_t r0, int64_t r1) {
    switch (c->format) {
    case LK_Q8_0: lkn_rows(c, r0, r1, LK_Q8_0); break;
    case LK_Q4_0: lkn_rows(c, r0, r1, LK_Q4_0); break;
    default: lkn_rows(c, r0, r1, LK_Q4_1); break;
    }
}
#endif
