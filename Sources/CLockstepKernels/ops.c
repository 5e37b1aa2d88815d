/* Public entry points of the light ops and attention: dispatch to the per-ISA copies. */
#include "lk_internal.h"
#include <stdlib.h>

const lk_light_table *lk_light(int isa) {
    isa &= 0xFF;
#ifdef LK_X86
    if (isa == LK_ISA_AVX512 && lk_isa_supported(LK_ISA_AVX512)) return &lk_light_avx512;
    if (isa == LK_ISA_AVX2 && lk_isa_supported(LK_ISA_AVX2)) return &lk_light_avx2;
#endif
    (void)isa;
    return &lk_light_scalar;
}

/* ---- row-parallel light ops ---- */

/* Fewest values a light op must touch before it is split over the pool's threads: below this,
   waking the workers costs more than it saves. */
#define LK_LIGHT_PARALLEL_MIN 16384

/* Whether an op over `rows` rows of `width` values is split over the pool's threads (every light
   op computes each row, each element for the element-wise ones, on its own). */
#define LK_LIGHT_SPLIT(rows, width) ((rows) * (width) >= LK_LIGHT_PARALLEL_MIN)

typedef struct {
    const lk_light_table *ops;
    const float *x;
    int64_t columns;
    int16_t *values;
    int32_t *exponents, *sums;
} lk_quantize_args;

static void lk_quantize_rows(const void *p, int64_t r0, int64_t r1) {
    const lk_quantize_args *a = p;
    const int64_t nb = (a->columns + 31) / 32;
    a->ops->quantize(a->x + r0 * a->columns, r1 - r0, a->columns, a->values + r0 * nb * 32, a->exponents + r0 * nb,
                     a->sums + r0 * nb);
}

void lk_quantize(lk_pool *pool, int isa, const float *x, int64_t rows, int64_t columns, int16_t *values, int32_t *exponents,
                 int32_t *sums) {
    if (rows <= 0 || columns <= 0) return;
    const lk_quantize_args a = {lk_light(isa), x, columns, values, exponents, sums};
    lk_pool_run_ranges(pool, rows, 1, LK_LIGHT_SPLIT(rows, columns), lk_quantize_rows, &a);
}

typedef struct {
    const lk_light_table *ops;
    const float *x, *weight;
    int64_t n;
    float epsilon;
    float *y;
} lk_rms_norm_args;

static void lk_rms_norm_rows(const void *p, int64_t r0, int64_t r1) {
    const lk_rms_norm_args *a = p;
    a->ops->rms_norm(a->x + r0 * a->n, a->weight, r1 - r0, a->n, a->epsilon, a->y + r0 * a->n);
}

void lk_rms_norm(lk_pool *pool, int isa, const float *x, const float *weight, int64_t rows, int64_t n, float epsilon, float *y) {
    if (rows <= 0 || n <= 0) return;
    const lk_rms_norm_args a = {lk_light(isa), x, weight, n, epsilon, y};
    lk_pool_run_ranges(pool, rows, 1, LK_LIGHT_SPLIT(rows, n), lk_rms_norm_rows, &a);
}

typedef struct {
    const lk_light_table *ops;
    float *x;
    int64_t heads, head_dim;
    const int64_t *positions;
    const double *inv_freq;
    int64_t pairs;
} lk_rope_args;

static void lk_rope_rows(const void *p, int64_t r0, int64_t r1) {
    const lk_rope_args *a = p;
    a->ops->rope(a->x + r0 * a->heads * a->head_dim, r1 - r0, a->heads, a->head_dim, a->positions + r0, a->inv_freq, a->pairs);
}

void lk_rope(lk_pool *pool, int isa, float *x, int64_t rows, int64_t heads, int64_t head_dim, const int64_t *positions,
             const double *inv_freq, int64_t pairs) {
    if (rows <= 0 || heads <= 0 || pairs <= 0) return;
    const lk_rope_args a = {lk_light(isa), x, heads, head_dim, positions, inv_freq, pairs};
    /* each row also evaluates its angle table: count it as one more head */
    lk_pool_run_ranges(pool, rows, 1, LK_LIGHT_SPLIT(rows, (heads + 1) * head_dim), lk_rope_rows, &a);
}

typedef struct {
    const lk_light_table *ops;
    const float *gate, *up;
    float *x;   /* silu_mul: the output; add: the augend, updated in place */
    const float *y;
} lk_elementwise_args;

static void lk_silu_mul_range(const void *p, int64_t i0, int64_t i1) {
    const lk_elementwise_args *a = p;
    a->ops->silu_mul(a->gate + i0, a->up + i0, a->x + i0, i1 - i0);
}

void lk_silu_mul(lk_pool *pool, int isa, const float *gate, const float *up, float *out, int64_t n) {
    if (n <= 0) return;
    const lk_elementwise_args a = {lk_light(isa), gate, up, out, NULL};
    lk_pool_run_ranges(pool, n, 64, LK_LIGHT_SPLIT(n, 1), lk_silu_mul_range, &a);
}

static void lk_add_range(const void *p, int64_t i0, int64_t i1) {
    const lk_elementwise_args *a = p;
    a->ops->add(a->x + i0, a->y + i0, i1 - i0);
}

void lk_add(lk_pool *pool, int isa, float *x, const float *y, int64_t n) {
    if (n <= 0) return;
    const lk_elementwise_args a = {lk_light(isa), NULL, NULL, x, y};
    lk_pool_run_ranges(pool, n, 64, LK_LIGHT_SPLIT(n, 1), lk_add_range, &a);
}

void lk_softmax(int isa, float *x, int64_t n) {
    if (n > 0) lk_light(isa)->softmax(x, n);
}

/* ---- the contract's sine and cosine (ContractMath.sinCos) ---- */

static void lk_sincos(double theta, double *sn, double *cs) {
    const double half_pi1 = 0x1.921fb54400000p0, half_pi2 = 0x1.0b4611a600000p-34;
    const double half_pi3 = 0x1.3198a2e037073p-69, two_over_pi = 0x1.45f306dc9c883p-1;
    if (!(lk_fabsd(theta) <= 1048576.0)) { *sn = *cs = __builtin_nan(""); return; }
    double k = (theta * two_over_pi + 0x1.8p52) - 0x1.8p52;
    double r = ((theta - k * half_pi1) - k * half_pi2) - k * half_pi3;
    double r2 = r * r;
    double s = 1.0 / 355687428096000.0;          /* 1/17! */
    s = s * r2 - 1.0 / 1307674368000.0;          /* −1/15! */
    s = s * r2 + 1.0 / 6227020800.0;             /* 1/13! */
    s = s * r2 - 1.0 / 39916800.0;               /* −1/11! */
    s = s * r2 + 1.0 / 362880.0;                 /* 1/9! */
    s = s * r2 - 1.0 / 5040.0;                   /* −1/7! */
    s = s * r2 + 1.0 / 120.0;                    /* 1/5! */
    s = s * r2 - 1.0 / 6.0;                      /* −1/3! */
    s = s * r2 + 1.0;
    double c = -1.0 / 6402373705728000.0;        /* −1/18! */
    c = c * r2 + 1.0 / 20922789888000.0;         /* 1/16! */
    c = c * r2 - 1.0 / 87178291200.0;            /* −1/14! */
    c = c * r2 + 1.0 / 479001600.0;              /* 1/12! */
    c = c * r2 - 1.0 / 3628800.0;                /* −1/10! */
    c = c * r2 + 1.0 / 40320.0;                  /* 1/8! */
    c = c * r2 - 1.0 / 720.0;                    /* −1/6! */
    c = c * r2 + 1.0 / 24.0;                     /* 1/4! */
    c = c * r2 - 0.5;                            /* −1/2! */
    c = c * r2 + 1.0;
    s = s * r;
    switch ((int64_t)k & 3) {
    case 0: *sn = s; *cs = c; break;
    case 1: *sn = c; *cs = -s; break;
    case 2: *sn = -s; *cs = -c; break;
    default: *sn = -c; *cs = s; break;
    }
}

void lk_rope_angles(const double *inv_freq, int64_t pairs, int64_t position, float *cos_out, float *sin_out) {
    for (int64_t i = 0; i < pairs; i++) {
        double s, c;
        lk_sincos((double)position * inv_freq[i], &s, &c);
        cos_out[i] = (float)c;
        sin_out[i] = (float)s;
    }
}

/* ---- attention ---- */

static int lk_ceil_log2_i(int64_t n) {
    int k = 0;
    while (((int64_t)1 << k) < n) k++;
    return k;
}

size_t lk_attention_scratch_bytes(const lk_attention_cache *c, int64_t length) {
    int64_t g = c->heads / c->kv_heads;
    int64_t nbp = (length + 31) / 32, bph = (c->head_dim + 31) / 32;
    int64_t maxwin = 1200 / (61 - 30 - lk_ceil_log2_i(c->cache_length + 1)) + 3;
    /* each array rounded up to 64 bytes (see attention_task) */
    int64_t bytes = 0;
    bytes += (g * nbp * 32 * 4 + 63) / 64 * 64;      /* scores */
    bytes += 2 * ((g * nbp * 4 + 63) / 64 * 64);     /* p exponents, sums */
    bytes += 2 * ((g * bph * 4 + 63) / 64 * 64);     /* q exponents, sums */
    bytes += (g * nbp * 32 * 2 + 63) / 64 * 64;      /* p values */
    bytes += (g * bph * 32 * 2 + 63) / 64 * 64;      /* q values */
    bytes += 2 * ((g * 8 + 63) / 64 * 64);           /* windows, minima */
    bytes += g * 32 * maxwin * 8;                    /* window accumulators */
    return (size_t)bytes + 64;
}

/* Chunk w of n: a contiguous range of tasks counted from the last one. Later rows attend to more
   positions, so the threads, claiming chunks in order, take the largest tasks first and the
   small ones even out the end. */
static void lk_attention_worker(void *p, int w, int n) {
    const lk_attention_job *job = p;
    int64_t a = job->tasks * w / n, b = job->tasks * (w + 1) / n;
    if (a >= b) return;
    void *scratch = lk_scratch_acquire(LK_SCRATCH_ATTN_TASK, job->scratch_bytes);
    for (int64_t k = a; k < b; k++)
        job->ops->attention_task(job, job->tasks - 1 - k, scratch);
    lk_scratch_release(LK_SCRATCH_ATTN_TASK);
}

int lk_attention(lk_pool *pool, int isa, const float *queries, int64_t rows, const int64_t *positions,
                 const lk_attention_cache *cache, float *out) {
    if (rows <= 0) return 0;
    if (cache->heads <= 0 || cache->kv_heads <= 0 || cache->heads % cache->kv_heads != 0 || cache->head_dim <= 0)
        return -1;
    if (61 - 30 - lk_ceil_log2_i(cache->cache_length + 1) < 1) return -1;
    int64_t work = 0, vlen = 0;
    for (int64_t t = 0; t < rows; t++) {
        if (positions[t] < 0 || positions[t] + 1 > cache->cache_length) return -1;
        work += positions[t] + 1;
        vlen = positions[t] + 1 > vlen ? positions[t] + 1 : vlen;
    }
    /* The value block exponents by column (kv head, block) for the positions attended to: every
       task scans whole columns of them (once per head group and output block). */
    const int64_t cols = cache->kv_heads * ((cache->head_dim + 31) / 32);
    int32_t *vcols = lk_scratch_acquire(LK_SCRATCH_ATTN_COLUMNS, (size_t)(cols * vlen) * sizeof(int32_t));
    for (int64_t j = 0; j < vlen; j++)
        for (int64_t k = 0; k < cols; k++) vcols[k * vlen + j] = cache->value_exponents[j * cols + k];
    /* Tasks: one per (row, key/value head); when that is fewer than two per thread, the query
       heads of each group are split over several tasks so that the threads stay busy. */
    int threads = lk_pool_threads(pool);
    int64_t group = cache->heads / cache->kv_heads, splits = 1;
    while (rows * cache->kv_heads * splits < 2 * threads && splits < group) splits++;
    lk_attention_job job = {lk_light(isa), queries, positions, cache, vcols, vlen, NULL, out,
                            rows * cache->kv_heads * splits, splits, lk_attention_scratch_bytes(cache, cache->cache_length)};
#ifdef LK_X86
    /* The AVX-512 scores read keys as transposed tiles: for several rows, built here once for all
       of them; for one row, each task builds its own as it goes (in parallel, and in cache). */
    const size_t tile_bytes = job.ops == &lk_light_avx512 && rows > 1 ? lk_attn_key_tiles_bytes(cache, vlen) : 0;
    if (tile_bytes > 0) {
        int32_t *tiles = lk_scratch_acquire(LK_SCRATCH_ATTN_KEYS, tile_bytes);
        lk_attn_key_tiles_avx512(cache, vlen, tiles);
        job.key_tiles = tiles;
    }
#endif
    work *= cache->heads * ((cache->head_dim + 31) / 32);
    int64_t chunks = work < 512 || threads <= 1 ? 1 : job.tasks < 8 * threads ? job.tasks : 8 * threads;
    lk_pool_run(pool, (int)chunks, lk_attention_worker, &job);
    if (job.key_tiles) lk_scratch_release(LK_SCRATCH_ATTN_KEYS);
    lk_scratch_release(LK_SCRATCH_ATTN_COLUMNS);
    return 0;
}
