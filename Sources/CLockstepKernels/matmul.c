/*
 * Exact matrix products: the driver (activation preparation, thread split, dispatch) and the
 * portable scalar kernel.
 *
 * Fast path. Output (r, t) is Σ_b T_b·2^(E_b) with integer terms T_b = sig(d_rb)·I_rb (and, for
 * Q4_1, sig(m_rb)·S_tb) and E_b = exp(d_rb) + e_tb. With a base B = hint_r + emin_t no larger
 * than any E_b of a non-zero term, every term is an integer multiple of 2^B and the sum is
 * Σ_b T_b << (E_b − B). When every shift lies in [0, shmax] the terms and their sum fit an
 * int64 (shmax is chosen from the format's term bound and the number of terms), so the sum is
 * exact; one correctly rounded int64 → binary32 conversion and an exact scaling by 2^B give
 * the contract's result. Kernels check every shift; any output with a shift out of range, a
 * subnormal result, or an odd activation row is recomputed by the general exact accumulator.
 * Either way the value is the correctly rounded exact sum, so every path gives the same bits.
 */
#include "lk_internal.h"
#include <stdio.h>
#include <stdlib.h>

static int64_t lk_block_bytes(int format) { return format == LK_Q8_0 ? 34 : format == LK_Q4_0 ? 18 : 20; }

/* The exponent of an fp16 scale (as lk_half_split), or 127 for a zero one; branch-free. */
LK_INLINE int32_t lk_hint_key(uint32_t h) {
    const int32_t mag = (int32_t)(h & 0x7FFF), e = mag >> 10;
    return mag ? (e > 1 ? e : 1) - 25 : 127;
}

void lk_matmul_hints(int format, const uint8_t *w, int64_t rows, int64_t nb, int8_t *hints) {
    const int64_t bb = lk_block_bytes(format);
    for (int64_t r = 0; r < rows; r++) {
        int32_t lo = 127;
        const uint8_t *row = w + r * nb * bb;
        if (format == LK_Q4_1) {
            for (int64_t b = 0; b < nb; b++) {
                const int32_t kd = lk_hint_key(lk_load_u16(row + b * bb)), km = lk_hint_key(lk_load_u16(row + b * bb + 2));
                const int32_t k = kd < km ? kd : km;
                lo = k < lo ? k : lo;
            }
        } else {
            for (int64_t b = 0; b < nb; b++) {
                const int32_t k = lk_hint_key(lk_load_u16(row + b * bb));
                lo = k < lo ? k : lo;
            }
        }
        hints[r] = (int8_t)(lo == 127 ? 0 : lo);
    }
}

static int lk_ceil_log2(int64_t n) {
    int k = 0;
    while (((int64_t)1 << k) < n) k++;
    return k;
}

/* ---- scalar kernel ---- */

void lk_mm_rows_scalar(const lk_mm_ctx *c, int64_t r0, int64_t r1) {
    const int64_t T = c->T, nb = c->nb;
    const uint32_t shmax = (uint32_t)c->shmax;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = c->w + r * c->row_bytes;
        for (int64_t t = 0; t < T; t++) {
            int64_t base = (int64_t)c->hints[r] + c->emin[t];
            int64_t acc = 0;
            int bad = !c->tok_ok[t];
            for (int64_t b = 0; b < nb && !bad; b++) {
                const uint8_t *blk = row + b * c->bb;
                const int16_t *s = c->xv + (t * nb + b) * 32;
                int32_t ae = c->ae[b * T + t];
                int32_t isum = 0;
                switch (c->format) {
                case LK_Q8_0: {
                    const int8_t *q = (const int8_t *)(blk + 2);
                    for (int j = 0; j < 32; j++) isum += (int32_t)q[j] * s[j];
                    break;
                }
                case LK_Q4_0: {
                    const uint8_t *q = blk + 2;
                    for (int j = 0; j < 16; j++)
                        isum += ((int32_t)(q[j] & 0xF) - 8) * s[j] + ((int32_t)(q[j] >> 4) - 8) * s[j + 16];
                    break;
                }
                default: {
                    const uint8_t *q = blk + 4;
                    for (int j = 0; j < 16; j++)
                        isum += (int32_t)(q[j] & 0xF) * s[j] + (int32_t)(q[j] >> 4) * s[j + 16];
                    int32_t msig, mexp;
                    lk_half_split(lk_load_u16(blk + 2), &msig, &mexp);
                    if (msig != 0) {
                        int64_t sh = (int64_t)mexp + ae - base;
                        if ((uint64_t)sh > shmax) { bad = 1; break; }
                        acc += (int64_t)((uint64_t)((int64_t)msig * c->as[b * T + t]) << sh);
                    }
                    break;
                }
                }
                int32_t dsig, dexp;
                lk_half_split(lk_load_u16(blk), &dsig, &dexp);
                if (dsig != 0 && !bad) {
                    int64_t sh = (int64_t)dexp + ae - base;
                    if ((uint64_t)sh > shmax) { bad = 1; break; }
                    acc += (int64_t)((uint64_t)((int64_t)dsig * isum) << sh);
                }
            }
            lk_mm_store(c, r, t, acc, base, bad);
        }
    }
}

/* ---- driver ---- */

typedef void (*lk_mm_kernel)(const lk_mm_ctx *, int64_t, int64_t);

/* The row groups of several products (one context each), numbered across them in order. */
typedef struct {
    const lk_mm_ctx *c;   /* count contexts */
    const int64_t *first; /* count + 1: the first group of each product, then the total */
    int count;
    lk_mm_kernel kernel;
    int64_t group_rows;   /* rows a kernel takes together: 16, or LK_PANEL_GROUP_ROWS (48) for the panel kernels' groups of three panels */
} lk_mm_job;

/* Chunk w of n: a contiguous range of the groups, as one kernel call per product it meets. */
static void lk_mm_worker(void *p, int w, int n) {
    const lk_mm_job *job = p;
    const int64_t total = job->first[job->count];
    /* Chunks shrink towards the end (chunk w ends where a share 1 − ((n − w − 1)/n)² of the
       groups does), so that the thread that finishes last waits on a small one. */
    const int64_t m2 = (int64_t)n * n, left0 = (int64_t)(n - w) * (n - w), left1 = (int64_t)(n - w - 1) * (n - w - 1);
    const int64_t g0 = total - total * left0 / m2, g1 = total - total * left1 / m2;
    for (int m = 0; m < job->count; m++) {
        const int64_t a = g0 > job->first[m] ? g0 : job->first[m], b = g1 < job->first[m + 1] ? g1 : job->first[m + 1];
        if (a >= b) continue;
        const lk_mm_ctx *c = &job->c[m];
        const int64_t r0 = (a - job->first[m]) * job->group_rows, r1 = (b - job->first[m]) * job->group_rows;
        job->kernel(c, r0, r1 < c->rows ? r1 : c->rows);
    }
}

/* The driver's per-token tables, written through these pointers (lk_mm_ctx holds them const). */
typedef struct {
    const lk_mm_ctx *c;
    int32_t *ae, *as, *emin;
    uint8_t *ok;
    int panel;                   /* also fill the panel kernels' tables */
    int32_t *xp, *xsum, *xsumsh, *xshmax;
    int64_t *xsh;
} lk_mm_prep;

/* Tokens t0 … t1 − 1 (t0 a multiple of LK_PANEL_TILE, so that each tile is one call's): which
   blocks take part, their exponent range, the sums the kernels use, and for the panel kernels
   the tile-major activation pairs, shifts and sums. Tokens are independent: any split of the
   token range over threads writes the same tables. */
static void lk_mm_prepare_tokens(const void *args, int64_t t0, int64_t t1) {
    const lk_mm_prep *p = args;
    const lk_mm_ctx *c = p->c;
    const int64_t T = c->T, nb = c->nb;
    for (int64_t t = t0; t < t1; t++) {
        int32_t lo = INT32_MAX, hi = INT32_MIN;
        int good = 1;
        for (int64_t b = 0; b < nb; b++) {
            int64_t xb = t * nb + b;
            /* Whether the block has a non-zero integer, and its sum where a kernel uses it: Q4_0's
               −8 offset (the raw sum), Q4_1's offset term (the given sum, below). */
            uint64_t words[8];
            memcpy(words, c->xv + xb * 32, 64);
            int32_t sum = 0, any = ((words[0] | words[1] | words[2] | words[3]) | (words[4] | words[5] | words[6] | words[7])) != 0;
            if (c->format == LK_Q4_0) {
                const int16_t *s = c->xv + xb * 32;
                for (int j = 0; j < 32; j++) sum += s[j];
            }
            if (c->format == LK_Q4_1) {
                sum = c->xs[xb];
                any |= sum;
                if (sum > (1 << 20) || sum < -(1 << 20)) good = 0;
            }
            p->as[b * T + t] = sum;
            if (any) {
                int32_t e = c->xe[xb];
                p->ae[b * T + t] = e;
                if (e < lo) lo = e;
                if (e > hi) hi = e;
            } else {
                p->ae[b * T + t] = INT32_MIN;   /* filled below */
            }
        }
        if (lo == INT32_MAX) lo = hi = 0;
        if (lo < -900 || hi > 900) good = 0;
        for (int64_t b = 0; b < nb; b++) if (p->ae[b * T + t] == INT32_MIN) p->ae[b * T + t] = lo;
        p->emin[t] = lo;
        p->ok[t] = (uint8_t)good;
        if (!p->panel) continue;
        /* Activation pairs tile-major (see lk_mm_ctx.xp); the kernels read only the tokens that exist. */
        const int64_t tile = t / LK_PANEL_TILE, k = t % LK_PANEL_TILE;
        for (int64_t b = 0; b < nb; b++) {
            memcpy(p->xp + ((tile * nb + b) * LK_PANEL_TILE + k) * 16, c->xv + (t * nb + b) * 32, 64);
            int64_t sh = (int64_t)p->ae[b * T + t] - lo;
            if (sh > 64) sh = 64;   /* sllv gives 0; the lane is flagged by the shift check */
            const int64_t slot = (tile * nb + b) * LK_PANEL_TILE + k;
            p->xsh[slot] = sh;
            p->xsum[slot] = p->as[b * T + t];
            p->xsumsh[slot] = sh <= LK_PANEL_FOLD_MAX ? (int32_t)(uint32_t)((int64_t)p->as[b * T + t] << sh) : 0;
            if (k == 0 || sh > p->xshmax[tile * nb + b]) p->xshmax[tile * nb + b] = (int32_t)sh;
        }
    }
}

void lk_matmul(lk_pool *pool, int isa, int format, const uint8_t *w, int64_t rows, int64_t nb,
               const int8_t *hints, const int16_t *xv, const int32_t *xe, const int32_t *xs,
               int64_t T, float *y) {
    const lk_matmul_target target = {w, rows, hints, y};
    lk_matmul_many(pool, isa, format, nb, &target, 1, xv, xe, xs, T);
}

void lk_matmul_many(lk_pool *pool, int isa, int format, int64_t nb, const lk_matmul_target *targets, int count,
                    const int16_t *xv, const int32_t *xe, const int32_t *xs, int64_t T) {
    const int allow_vnni = !(isa & LK_ISA_NO_VNNI);
    (void)allow_vnni;
    isa &= 0xFF;
    if (T <= 0 || count <= 0) return;
    if (nb <= 0) {
        for (int m = 0; m < count; m++)
            for (int64_t i = 0; i < targets[m].rows * T; i++) targets[m].y[i] = 0.0f;
        return;
    }
    lk_mm_ctx c;
    memset(&c, 0, sizeof c);
    c.format = format;
    c.nb = nb;
    c.bb = lk_block_bytes(format);
    c.row_bytes = nb * c.bb;
    c.xv = xv;
    c.xe = xe;
    c.xs = xs;
    c.T = T;

    /* Scratch: ae, as (nb × T), emin (T), ok (T), then hints for the matrices given none. */
    int64_t hint_rows = 0;
    for (int m = 0; m < count; m++) hint_rows += targets[m].hints || targets[m].rows <= 0 ? 0 : targets[m].rows;
    size_t bytes = (size_t)(2 * nb * T + T) * 4 + (size_t)T + (size_t)hint_rows + 64;
    uint8_t *scratch = lk_scratch_acquire(LK_SCRATCH_MM_TABLES, bytes);
    int32_t *ae = (int32_t *)scratch;
    int32_t *as = ae + nb * T;
    int32_t *emin = as + nb * T;
    uint8_t *ok = (uint8_t *)(emin + T);
    int8_t *computed_hints = (int8_t *)(ok + T);
    /* Largest shift: terms are below 2^(tb), there are `terms` of them, and the scale
       significand (< 2^11) is shifted inside an int32 lane. */
    int tb = format == LK_Q8_0 ? 38 : format == LK_Q4_0 ? 34 : 35;
    int64_t terms = format == LK_Q4_1 ? 2 * nb : nb;
    int shmax = 63 - tb - lk_ceil_log2(terms);
    if (shmax > 20) shmax = 20;
    if (shmax < 0) shmax = -1;   /* nothing fits: every output takes the exact path */
    c.shmax = shmax;

    lk_mm_kernel kernel = lk_mm_rows_scalar;
#ifdef LK_X86
    /* The x86 kernels gather with int32 offsets within a group of 16 rows. */
    if (c.row_bytes * 16 >= ((int64_t)1 << 31)) isa = LK_ISA_SCALAR;
    if (isa == LK_ISA_AVX2 && lk_isa_supported(LK_ISA_AVX2)) kernel = lk_mm_rows_avx2;
    if (isa == LK_ISA_AVX512 && lk_isa_supported(LK_ISA_AVX512)) {
        const int vnni = allow_vnni && lk_cpu_has_avx512vnni();
        if (T >= LK_PANEL_MIN_TOKENS) kernel = vnni ? lk_mm_rows_panel_avx512vnni : lk_mm_rows_panel_avx512;
        else kernel = vnni ? lk_mm_rows_avx512 : lk_mm_rows_avx512_novnni;
    }
#endif
#ifdef LK_ARM64
    if (isa == LK_ISA_NEON) kernel = lk_mm_rows_neon;
#endif

    uint8_t *xb8 = NULL;
#ifdef LK_X86
    if (kernel == lk_mm_rows_avx512 && format != LK_Q8_0) {
        /* Byte planes for vpdpbusd: s = 256·(s >> 8) + (s & 0xFF). */
        xb8 = malloc((size_t)(T * nb * 64));
        for (int64_t i = 0; i < T * nb; i++) {
            const int16_t *src = xv + i * 32;
            uint8_t *dst = xb8 + i * 64;
            for (int j = 0; j < 32; j++) {
                dst[j] = (uint8_t)(src[j] & 0xFF);
                dst[32 + j] = (uint8_t)(int8_t)(src[j] >> 8);
            }
        }
        c.xb8 = xb8;
    }
#endif

    /* The per-token tables, on the pool's threads (by tiles) when there are enough tokens. */
    lk_mm_prep prep = {&c, ae, as, emin, ok, 0, NULL, NULL, NULL, NULL, NULL};
    int32_t *xp = NULL;
#ifdef LK_X86
    if (kernel == lk_mm_rows_panel_avx512vnni || kernel == lk_mm_rows_panel_avx512) {
        const int64_t slots = (T + LK_PANEL_TILE - 1) / LK_PANEL_TILE * nb * LK_PANEL_TILE;
        /* every slot a kernel reads is written (the missing tokens of the last tile are never read);
           xp: 16 pairs per slot, then xsh (int64), xsum, xsumsh (int32) per slot, xshmax per tile and block */
        xp = lk_scratch_acquire(LK_SCRATCH_MM_TOKENS, (size_t)(slots * 16 + 4 * slots + slots / LK_PANEL_TILE) * 4);
        int64_t *xsh = (int64_t *)(xp + slots * 16);
        int32_t *xsum = (int32_t *)(xsh + slots), *xsumsh = xsum + slots, *xshmax = xsumsh + slots;
        prep.panel = 1;
        prep.xp = xp; prep.xsh = xsh; prep.xsum = xsum; prep.xsumsh = xsumsh; prep.xshmax = xshmax;
        c.xp = xp;
        c.xsh = xsh;
        c.xsum = xsum;
        c.xsumsh = xsumsh;
        c.xshmax = xshmax;
    }
#endif
    lk_pool_run_ranges(pool, T, LK_PANEL_TILE, T * nb >= 1024, lk_mm_prepare_tokens, &prep);
    c.ae = ae;
    c.as = as;
    c.emin = emin;
    c.tok_ok = ok;
    if (shmax < 0) for (int64_t t = 0; t < T; t++) ok[t] = 0;

    int64_t group_rows = 16;
#ifdef LK_X86
    if (kernel == lk_mm_rows_panel_avx512vnni || kernel == lk_mm_rows_panel_avx512) group_rows = LK_PANEL_GROUP_ROWS;
#endif
    /* One context per matrix (the token tables shared), their row groups numbered in turn. */
    lk_mm_ctx one[1];
    int64_t first_one[2];
    lk_mm_ctx *cs = count == 1 ? one : malloc((size_t)count * sizeof *cs);
    int64_t *first = count == 1 ? first_one : malloc((size_t)(count + 1) * sizeof *first);
    if (!cs || !first) {
        fputs("lockstep kernels: out of memory (matmul contexts)\n", stderr);
        abort();
    }
    int64_t rows = 0;
    first[0] = 0;
    for (int m = 0; m < count; m++) {
        cs[m] = c;
        cs[m].w = targets[m].weights;
        cs[m].rows = targets[m].rows > 0 ? targets[m].rows : 0;
        cs[m].y = targets[m].y;
        cs[m].hints = targets[m].hints;
        if (!cs[m].hints && cs[m].rows > 0) {
            lk_matmul_hints(format, cs[m].w, cs[m].rows, nb, computed_hints);
            cs[m].hints = computed_hints;
            computed_hints += cs[m].rows;
        }
        first[m + 1] = first[m] + (cs[m].rows + group_rows - 1) / group_rows;
        rows += cs[m].rows;
    }
    lk_stat_add(0, (uint64_t)(rows * T));
    lk_mm_job job = {cs, first, count, kernel, group_rows};
    /* Chunks of row groups, claimed in turn: many small ones, so that the threads finish
       together; small products are not worth waking workers for. */
    int64_t work = rows * nb * T;
    int threads = lk_pool_threads(pool);
    int chunks = work < 4096 || threads <= 1 ? 1 : 16 * threads;
    if (chunks > first[count]) chunks = (int)first[count];
    if (chunks > 0) lk_pool_run(pool, chunks, lk_mm_worker, &job);
    if (cs != one) free(cs);
    if (first != first_one) free(first);
    free(xb8);
    if (xp) lk_scratch_release(LK_SCRATCH_MM_TOKENS);
    lk_scratch_release(LK_SCRATCH_MM_TABLES);
}
