/* Internal declarations shared by the kernel files. Not part of the public header. */
#pragma once
#include "lockstep_kernels.h"
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define LK_X86 1
#endif
#if defined(__aarch64__)
#define LK_ARM64 1
#endif

#define LK_INLINE static inline __attribute__((always_inline))

/* ---- binary64 helpers ---- */

/** 2^k as a binary64 for -1022 ≤ k ≤ 1023 (built from its bit pattern: exact). */
LK_INLINE double lk_pow2d(int64_t k) {
    uint64_t bits = (uint64_t)(k + 1023) << 52;
    double d;
    memcpy(&d, &bits, 8);
    return d;
}

/** Byte offset of a Q4 block's 16 nibble bytes: after fp16 d (Q4_0), or fp16 d and m (Q4_1). */
LK_INLINE int64_t lk_q4_nibbles(int format) { return format == LK_Q4_1 ? 4 : 2; }

/** The mask of the first `n` (≥ 0) of 32 lanes: all of them for n ≥ 32. A 16- or 8-lane mask is
    its low bits (all of its lanes for n ≥ 16 or 8). */
LK_INLINE uint32_t lk_first_lanes(int64_t n) {
    return n >= 32 ? 0xFFFFFFFFu : (uint32_t)((1ull << n) - 1);
}

/** |x| as a bit operation. */
LK_INLINE double lk_fabsd(double x) {
    uint64_t b;
    memcpy(&b, &x, 8);
    b &= 0x7FFFFFFFFFFFFFFFull;
    memcpy(&x, &b, 8);
    return x;
}

/* ---- the exact accumulator (a wide fixed-point integer, see ExactAccumulator.swift) ---- */

#define LK_EXACT_MIN_EXP (-1248)
#define LK_EXACT_LIMBS 82
#define LK_EXACT_MAX_TERM_EXP (LK_EXACT_MIN_EXP + 32 * (LK_EXACT_LIMBS - 4))

typedef struct {
    int64_t limb[LK_EXACT_LIMBS];
    int out_of_range;
} lk_exact;

LK_INLINE void lk_exact_clear(lk_exact *a) { memset(a, 0, sizeof *a); }
/** Adds value·2^exponent exactly; |value| < 2^62. */
void lk_exact_add(lk_exact *a, int64_t value, int64_t exponent);
/** Carry-normalises the accumulator into its magnitude as 32-bit limbs (least significant first);
    returns 1 when the sum is negative. */
int lk_exact_magnitude(const lk_exact *a, uint32_t d[LK_EXACT_LIMBS]);
/** The exact sum rounded once to binary32 (RNE; ±inf past the range; +0 for zero). */
float lk_exact_round(const lk_exact *a);

/**
 * Fast conversion of acc·2^base to binary32 when that is provably correctly rounded:
 * returns 0 (and leaves *out alone) when the result would be subnormal or `base` is extreme.
 */
LK_INLINE int lk_finish(int64_t acc, int64_t base, float *out) {
    if (acc == 0) { *out = 0.0f; return 1; }
    if (base < -1000 || base > 1000) return 0;
    float f = (float)acc;                       /* correctly rounded to 24 bits */
    double r = (double)f * lk_pow2d(base);      /* exact (binary64 range) */
    if (lk_fabsd(r) < 0x1p-126) return 0;       /* subnormal: rounding position differs */
    *out = (float)r;                            /* exact, or ±inf past the range */
    return 1;
}

/** Splits an fp16 bit pattern into significand·2^exponent (as SplitHalf). */
LK_INLINE void lk_half_split(uint32_t h, int32_t *sig, int32_t *ex) {
    int32_t e = (int32_t)((h >> 10) & 31), f = (int32_t)(h & 0x3FF);
    int32_t s = e ? (f | 0x400) : f;
    *ex = e ? e - 25 : -24;
    *sig = (h & 0x8000) ? -s : s;
}

LK_INLINE uint32_t lk_load_u16(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }

/* ---- diagnostics ---- */

#include <stdatomic.h>
extern _Atomic uint64_t lk_stat_counters[4];
LK_INLINE void lk_stat_add(int i, uint64_t n) { atomic_fetch_add_explicit(&lk_stat_counters[i], n, memory_order_relaxed); }

/* ---- thread pool ---- */

/* Work over rows [r0, r1) of `args`. */
typedef void (*lk_range_fn)(const void *args, int64_t r0, int64_t r1);
/* Runs `fn` over rows 0 … rows − 1: with `split`, as one contiguous range per thread (range starts
   multiples of `align`), else (or when that is one range) in one call on this thread. For work
   whose every row is computed on its own, so that the split changes no bit. */
void lk_pool_run_ranges(lk_pool *pool, int64_t rows, int64_t align, int split, lk_range_fn fn, const void *args);

/* ---- per-thread scratch (scratch.c) ---- */

/* Slots: a thread may hold one buffer per slot at a time. */
enum {
    LK_SCRATCH_MM_TABLES,     /* lk_matmul: per-token exponents, sums, flags (caller's thread) */
    LK_SCRATCH_MM_TOKENS,     /* lk_matmul: the panel kernels' tile-major activation pairs (caller) */
    LK_SCRATCH_MM_PANELS,     /* a panel kernel's unpacked weight panels (any pool thread) */
    LK_SCRATCH_ATTN_COLUMNS,  /* lk_attention: value exponents by column (caller) */
    LK_SCRATCH_ATTN_KEYS,     /* lk_attention: the AVX-512 scores' transposed key tiles (caller) */
    LK_SCRATCH_ATTN_TASK,     /* an attention task's arrays (any pool thread) */
    LK_SCRATCH_SLOTS
};
/** This thread's buffer for `slot`, at least `bytes` long and 64-byte aligned; its contents are
    undefined. It stays valid until the next acquire of the same slot on this thread or
    `lk_scratch_release(slot)`. Aborts with a message when memory is exhausted. */
void *lk_scratch_acquire(int slot, size_t bytes);
/** Ends this thread's use of `slot`: frees the buffer if it is large, else keeps it for reuse. */
void lk_scratch_release(int slot);

/* ---- RoPE angles (rope_table.c) ---- */

typedef struct lk_rope_table lk_rope_table;
/** This thread's RoPE table (NULL until made), kept with its scratch and freed at thread exit. */
lk_rope_table **lk_thread_rope_table(void);
/** Frees a RoPE table (NULL allowed). */
void lk_rope_table_free(lk_rope_table *t);
/** cos (then sin) of every pair's angle at `position`: `2·pairs` floats, exactly what
    `lk_rope_angles` writes, from this thread's table (valid until this thread's next call), or
    computed into `buffer` (2·pairs floats) when the table cannot hold them. */
const float *lk_rope_row_angles(const double *inv_freq, int64_t pairs, int64_t position, float *buffer);

/* ---- matmul ---- */

typedef struct {
    int format;
    const uint8_t *w;
    int64_t rows, nb, bb, row_bytes;
    const int8_t *hints;          /* per row */
    const int16_t *xv;            /* T × nb × 32 */
    const int32_t *xe, *xs;       /* T × nb (as given) */
    int64_t T;
    const int32_t *ae;            /* nb × T: exponents, zero blocks moved to the token's minimum */
    const int32_t *as;            /* nb × T: sums (Q4_0: computed from the values; Q4_1: given) */
    const int32_t *emin;          /* T */
    const uint8_t *tok_ok;        /* T: 0 → every output of the token takes the exact path */
    int shmax;                    /* largest shift the int64 fast path may take */
    const int32_t *xp;            /* panel kernels: tokens in tiles of LK_PANEL_TILE; per tile and block, the
                                     tile's tokens' 16 pairs (elements 2j, 2j + 1 as two int16) in a row */
    const int64_t *xsh;           /* panel kernels: per tile, block and token, e_tb − emin_t (clamped to 64) */
    const int32_t *xsum;          /* panel kernels: the same slots' block sums */
    const int32_t *xsumsh;        /* panel kernels: as xsum, times 2^(xsh) when xsh ≤ LK_PANEL_FOLD_MAX (else 0) */
    const int32_t *xshmax;        /* panel kernels: per tile and block, the largest of the tile's shifts */
    const uint8_t *xb8;           /* T × nb × 64: per block the low bytes (u8) of elements 0–15, 16–31,
                                     then the high bytes (s8) of 0–15, 16–31 (VNNI kernels only) */
    float *y;
} lk_mm_ctx;

/** One output by the general exact path (the reference's arithmetic). */
float lk_mm_exact_one(const lk_mm_ctx *c, int64_t r, int64_t t);

/** Stores output (r, t) from the fast path's accumulator, or recomputes it exactly. */
LK_INLINE void lk_mm_store(const lk_mm_ctx *c, int64_t r, int64_t t, int64_t acc, int64_t base, int bad) {
    float v;
    if (bad || !c->tok_ok[t] || !lk_finish(acc, base, &v)) {
        v = lk_mm_exact_one(c, r, t);
        lk_stat_add(1, 1);
    }
    c->y[t * c->rows + r] = v;
}

/* The batched kernels (mm_panel.inc, x86): worth their per-group unpacking from
   LK_PANEL_MIN_TOKENS tokens; they take tokens in tiles of LK_PANEL_TILE (the driver also splits
   its per-token tables by tiles) and fold a token shift of at most LK_PANEL_FOLD_MAX into the
   int32 block sums. */
#define LK_PANEL_MIN_TOKENS 16
#define LK_PANEL_FOLD_MAX 6
/* Rows a panel kernel takes together: three panels of 16 (mm_panel.inc, Groups of panels). */
#define LK_PANEL_GROUP_ROWS 48
#define LK_PANEL_TILE 8

void lk_mm_rows_scalar(const lk_mm_ctx *c, int64_t r0, int64_t r1);
#ifdef LK_X86
void lk_mm_rows_avx2(const lk_mm_ctx *c, int64_t r0, int64_t r1);
void lk_mm_rows_avx512(const lk_mm_ctx *c, int64_t r0, int64_t r1);
void lk_mm_rows_avx512_novnni(const lk_mm_ctx *c, int64_t r0, int64_t r1);
void lk_mm_rows_avx512vnni_q4(const lk_mm_ctx *c, int64_t r0, int64_t r1);
void lk_mm_rows_panel_avx512(const lk_mm_ctx *c, int64_t r0, int64_t r1);
void lk_mm_rows_panel_avx512vnni(const lk_mm_ctx *c, int64_t r0, int64_t r1);
int lk_cpu_has_avx512vnni(void);
#endif
#ifdef LK_ARM64
void lk_mm_rows_neon(const lk_mm_ctx *c, int64_t r0, int64_t r1);
#endif

/* ---- light ops (one portable source compiled per instruction set) ---- */

struct lk_attention_job;

typedef struct {
    void (*quantize)(const float *x, int64_t rows, int64_t columns, int16_t *values, int32_t *exponents, int32_t *sums);
    void (*rms_norm)(const float *x, const float *weight, int64_t rows, int64_t n, float epsilon, float *y);
    void (*rope)(float *x, int64_t rows, int64_t heads, int64_t head_dim, const int64_t *positions,
                 const double *inv_freq, int64_t pairs);
    void (*silu_mul)(const float *gate, const float *up, float *out, int64_t n);
    void (*add)(float *x, const float *y, int64_t n);
    void (*softmax)(float *x, int64_t n);
    /* task k of `job` (see lk_attention_job), with `scratch` of lk_attention_scratch_bytes */
    void (*attention_task)(const struct lk_attention_job *job, int64_t task, void *scratch);
} lk_light_table;

extern const lk_light_table lk_light_scalar;
#ifdef LK_X86
extern const lk_light_table lk_light_avx2;
extern const lk_light_table lk_light_avx512;
#endif

/** The light-op table for `isa` (falls back to scalar for paths without their own copy). */
const lk_light_table *lk_light(int isa);

/* One lk_attention call, shared by its tasks: task k = one query row × one key/value head × one
   part of that head's group of query heads (`splits` parts). */
typedef struct lk_attention_job {
    const lk_light_table *ops;
    const float *queries;                /* rows × heads × head_dim */
    const int64_t *positions;            /* rows: query t sees positions 0 … positions[t] */
    const lk_attention_cache *cache;
    const int32_t *vcols;                /* value block exponents by column: (kv head, block) × vlen */
    int64_t vlen;                        /* 1 + the largest position */
    const int32_t *key_tiles;            /* all key tiles (lk_attn_key_tiles_avx512), or NULL: built per task */
    float *out;                          /* rows × heads × head_dim */
    int64_t tasks, splits;
    size_t scratch_bytes;
} lk_attention_job;

#ifdef LK_X86
/* The AVX-512 scores' key tiles: per column (kv head, block of the head) and 16 positions, the
   16 key pairs transposed (16 vectors, lane i = position j0 + i) and the 16 key exponents:
   LK_ATTN_TILE_DWORDS int32 each, column-major. Positions past vlen − 1 repeat position vlen − 1. */
#define LK_ATTN_TILE_DWORDS (17 * 16)
/** Bytes of the key tiles for `vlen` positions, or 0 when the AVX-512 scores do not take the shape. */
size_t lk_attn_key_tiles_bytes(const lk_attention_cache *c, int64_t vlen);
void lk_attn_key_tiles_avx512(const lk_attention_cache *c, int64_t vlen, int32_t *tiles);
int lk_attn_scores_avx512(const lk_attention_job *job, const int16_t *qv, const int32_t *qe, int64_t g, int64_t kvh,
                          int64_t n, float *sc, int64_t stride);
int lk_attn_pv_avx512(const lk_attention_cache *c, const int16_t *pv, const int32_t *pe, const int32_t *vcol, int64_t g,
                      int64_t nbp, int64_t kvh, int64_t n, int64_t cb, const int64_t *emins, int64_t *win, int64_t maxwin);
void lk_attn_term_range_avx512(const int16_t *p, const int32_t *pex, const int32_t *vcol, int64_t n, int32_t *lo,
                               int32_t *hi);
uint32_t lk_attn_finish_avx512(const int64_t *acc, int64_t emin, int64_t lanes, float *out);
#endif
/** Bytes of scratch one attention task needs for a cache of `length` positions. */
size_t lk_attention_scratch_bytes(const lk_attention_cache *cache, int64_t length);
