#pragma once
/*
 * C kernels of Lockstep's `cpu` backend.
 *
 * Every kernel computes exactly the bits of the plain-Swift reference backend
 * (LockstepCore/Backend/ReferenceBackend.swift):
 *   - matrix products and attention products are the correctly rounded binary32 value of the
 *     exact sum (int64 fixed point on the fast path, a wide limb accumulator otherwise);
 *   - light ops (quantisation, RMSNorm, RoPE, SiLU, softmax, add) repeat the reference's
 *     binary32/binary64 operation sequence exactly (no FMA, no fast-math, 32-lane ordered sums).
 *
 * Each kernel exists for several instruction sets, chosen at run time (`lk_isa`); every
 * variant gives the same bits, so the choice and the thread count only change the speed.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- instruction sets ------------------------------------------------------------------ */

/** Instruction-set paths. */
typedef enum {
    LK_ISA_SCALAR = 0, /**< portable C */
    LK_ISA_AVX2 = 1,   /**< x86-64 AVX2 */
    LK_ISA_AVX512 = 2, /**< x86-64 AVX-512 F/BW/VL/DQ + VNNI */
    LK_ISA_NEON = 3,   /**< AArch64 Advanced SIMD */
} lk_isa;

/** Number of `lk_isa` values. */
#define LK_ISA_COUNT 4
/** Flag or-ed into an `isa` argument: the avx512 path must not use VNNI instructions. */
#define LK_ISA_NO_VNNI 0x100

/** 1 when this machine (and this build) can run `isa`. */
int lk_isa_supported(int isa);
/** 1 when the avx512 path can use VNNI instructions here. */
int lk_cpu_has_avx512vnni_public(void);
/** The fastest supported path. */
int lk_isa_best(void);
/** Short lower-case name ("scalar", "avx2", "avx512", "neon"), or NULL for an unknown value. */
const char *lk_isa_name(int isa);
/** The `lk_isa` named `name`, or -1. */
int lk_isa_from_name(const char *name);

/* ---- thread pool ----------------------------------------------------------------------- */

/** A fixed set of worker threads; the calling thread takes part as worker 0. */
typedef struct lk_pool lk_pool;

/** A pool of `threads` ≥ 1 workers in all (threads − 1 are created). NULL on failure. */
lk_pool *lk_pool_create(int threads);
/** Joins the workers and frees the pool. */
void lk_pool_destroy(lk_pool *pool);
/** Number of workers, the caller included. */
int lk_pool_threads(const lk_pool *pool);
/** A chunk of a pool job. */
typedef void (*lk_task_fn)(void *ctx, int chunk, int chunks);
/** Runs fn(ctx, i, chunks) for every i < chunks on the pool's threads (the caller included), and
    waits; a NULL pool runs them in turn on the caller's thread. Chunks must write disjoint
    outputs, and fn must not run a job on the same pool. */
void lk_pool_run(lk_pool *pool, int chunks, lk_task_fn fn, void *ctx);

/* ---- weight formats -------------------------------------------------------------------- */

/** Weight block formats (as in GGUF). */
typedef enum {
    LK_Q8_0 = 0, /**< fp16 d, 32 × int8: w = d·q */
    LK_Q4_0 = 1, /**< fp16 d, 16 bytes of nibbles: w = d·(q − 8) */
    LK_Q4_1 = 2, /**< fp16 d, fp16 m, 16 bytes of nibbles: w = d·q + m */
} lk_format;

/* ---- kernels --------------------------------------------------------------------------- */

/*
 * The light ops below take a `pool` (NULL: one thread) and split large calls over its threads by
 * rows (by elements for the element-wise ones); every row is computed on its own, so the bits do
 * not depend on the split.
 */

/**
 * Activation quantisation (SPEC §2.1): `rows × columns` binary32 values → per block of 32
 * (rows padded with zeros) int16 values, a power-of-two exponent and the block's integer sum.
 * `values` holds rows·⌈columns/32⌉·32 entries, `exponents` and `sums` rows·⌈columns/32⌉.
 */
void lk_quantize(lk_pool *pool, int isa, const float *x, int64_t rows, int64_t columns,
                 int16_t *values, int32_t *exponents, int32_t *sums);

/**
 * Per-row hint for `lk_matmul`: the smallest fp16 exponent (of d, and of m for Q4_1) over the
 * row's blocks with a non-zero scale. Only the speed depends on the hints, never the result.
 * `hints` receives `rows` bytes.
 */
void lk_matmul_hints(int format, const uint8_t *weights, int64_t rows, int64_t blocks_per_row,
                     int8_t *hints);

/**
 * Exact matrix product (SPEC §2.3): `y[t·rows + r] = round(Σ_k w[r,k]·x[t,k])` for the
 * `xrows` quantised activation rows `x` (values, exponents, sums as from `lk_quantize`, with
 * `blocks_per_row` blocks each) and the `rows × blocks_per_row·32` weight matrix in `format`.
 * `hints` (from `lk_matmul_hints`) may be NULL. `pool` may be NULL (one thread).
 */
void lk_matmul(lk_pool *pool, int isa, int format, const uint8_t *weights, int64_t rows,
               int64_t blocks_per_row, const int8_t *hints, const int16_t *x_values,
               const int32_t *x_exponents, const int32_t *x_sums, int64_t xrows, float *y);

/** One weight matrix of `lk_matmul_many`: `rows × blocks_per_row` blocks, its hints (from
    `lk_matmul_hints`, or NULL) and its `xrows × rows` outputs. */
typedef struct {
    const uint8_t *weights;
    int64_t rows;
    const int8_t *hints;
    float *y;
} lk_matmul_target;

/**
 * `lk_matmul` for `count` matrices of one format and width against the same activations: each
 * `targets[m].y` gets exactly what `lk_matmul` gives it. The per-token tables are built once and
 * every matrix's rows are shared out in one pool job (a block's query, key and value products;
 * its gate and up products).
 */
void lk_matmul_many(lk_pool *pool, int isa, int format, int64_t blocks_per_row, const lk_matmul_target *targets,
                    int count, const int16_t *x_values, const int32_t *x_exponents, const int32_t *x_sums,
                    int64_t xrows);

/** RMSNorm of `rows` rows of length `n` (SPEC §3.2). */
void lk_rms_norm(lk_pool *pool, int isa, const float *x, const float *weight, int64_t rows, int64_t n,
                 float epsilon, float *y);

/**
 * RoPE in place (SPEC §3.4): each of `heads` vectors of length `head_dim` in each of `rows`
 * rows is rotated at `positions[row]`, with the contract's angles from the binary64 inverse
 * frequencies `inv_freq[pairs]`.
 */
void lk_rope(lk_pool *pool, int isa, float *x, int64_t rows, int64_t heads, int64_t head_dim,
             const int64_t *positions, const double *inv_freq, int64_t pairs);

/** The contract's RoPE angle table for one position: cos/sin of position·inv_freq[i]. */
void lk_rope_angles(const double *inv_freq, int64_t pairs, int64_t position, float *cos_out,
                    float *sin_out);

/** out[i] = silu(gate[i])·up[i] (SPEC §3.3); `out` may alias `gate` or `up`. */
void lk_silu_mul(lk_pool *pool, int isa, const float *gate, const float *up, float *out, int64_t n);

/** x[i] += y[i]. */
void lk_add(lk_pool *pool, int isa, float *x, const float *y, int64_t n);

/** Softmax in place (the reference's `LightOps.softmax`). */
void lk_softmax(int isa, float *x, int64_t n);

/** The contract's binary32 e^x (ContractMath.exp(Float)). */
float lk_contract_expf(float x);

/** Shape and cache of one attention call (see `Backend.attention`). */
typedef struct {
    int64_t heads, kv_heads, head_dim;   /* attention shape */
    float scale;                         /* 1/sqrt(head_dim) as the reference computes it */
    int64_t cache_length;                /* positions in the cache for this layer */
    const int16_t *keys;                 /* cache_length × kv_heads × bph × 32 */
    const int32_t *key_exponents;        /* cache_length × kv_heads × bph */
    const int16_t *values;
    const int32_t *value_exponents;
} lk_attention_cache;

/**
 * Causal attention (SPEC §3.5): `rows` query rows (heads × head_dim each), query t sees
 * positions 0 … positions[t] of the cache; exact Q·Kᵀ, ordered softmax, exact P·V.
 * Writes rows × heads × head_dim values. Returns 0, or -1 when a position is not in the cache
 * or the shape is not one it handles. Aborts with a message when memory is exhausted.
 */
int lk_attention(lk_pool *pool, int isa, const float *queries, int64_t rows,
                 const int64_t *positions, const lk_attention_cache *cache, float *out);

/* ---- hashing --------------------------------------------------------------------------- */

/**
 * SHA-256 of `count` messages of one shape, 16 at a time in the lanes of AVX-512 registers.
 * Message m is the concatenation of `parts` ≥ 1 byte ranges, range j being `lengths[j]` bytes at
 * `ptrs[m·parts + j]` (the lengths are the same for every message). Writes digest m to
 * `digests + 32·m`. Returns 1 when done, 0 (writing nothing) when this machine or build has no
 * AVX-512 or an argument is out of range: the caller then hashes the messages another way.
 * Any number of threads may call it at once.
 */
int lk_sha256_lanes(int64_t count, int parts, const uint8_t *const *ptrs, const int64_t *lengths, uint8_t *digests);

/**
 * SHA-256 of up to 16 messages side by side, fed in pieces: every update appends `len` bytes to
 * each of `n` (1…16) messages, message i's from `ptrs[i]`, so all have the same length at every
 * point. For messages that are produced a piece at a time (an output head computed a vocabulary
 * slice at a time). `h`: the 16 states, word k of lane i at `h[k][i]`; `tail`: each lane's bytes
 * of its unfinished block; `length`: bytes fed to each message so far.
 */
typedef struct {
    uint32_t h[8][16];
    uint8_t tail[16][64];
    int64_t length;
} lk_sha256_stream;

/** Starts 16 empty messages. Returns 1, or 0 when this machine or build has no AVX-512 (the
    caller then hashes another way and must not call the functions below). */
int lk_sha256_stream_init(lk_sha256_stream *st);
/** Appends `len` ≥ 0 bytes at `ptrs[i]` to message i for i < n (lanes from n on repeat message 0). */
void lk_sha256_stream_update(lk_sha256_stream *st, int n, const uint8_t *const *ptrs, int64_t len);
/** Pads the messages and writes the digest of message i to `digests + 32·i` for i < n. The
    stream is spent. */
void lk_sha256_stream_final(lk_sha256_stream *st, int n, uint8_t *digests);

/* ---- diagnostics ---------------------------------------------------------------------- */

/**
 * Counters since the last `lk_stats_reset` (process-wide): [0] matmul outputs, [1] matmul
 * outputs that took the general exact path, [2] attention sums (scores and P·V outputs),
 * [3] attention sums that took the general exact path. The paths give identical bits; the
 * counters show which ones a workload (or a test) exercised.
 */
void lk_stats(uint64_t out[4]);
void lk_stats_reset(void);


#ifdef __cplusplus
}
#endif
