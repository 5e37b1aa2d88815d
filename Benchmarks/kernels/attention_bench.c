/*
 * One layer's attention (SmolLM2-135M shapes: 9 query heads, 3 key/value heads, head_dim 64)
 * over a cache of T positions through the C kernels alone (no Swift). Two workloads:
 *   rows — all T query rows at once, causal (a replay's or a prefill's batched pass);
 *   one  — one query row at position T − 1 (a decode step).
 * Keys, values and queries are random. Prints the best and the median of the rounds and a hash
 * of the outputs, which must not depend on the instruction set (compare with isa 0, the
 * portable C) or on the thread count.
 *
 *   attention_bench [T=140] [rounds=100] [isa=2] [threads=1] [rows|one]
 *   (isa: 0 scalar, 1 AVX2, 2 AVX-512; 258 AVX-512 without VNNI)
 */
#include "lockstep_kernels.h"
#include "bench_support.h"
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    const int T = argc > 1 ? atoi(argv[1]) : 140, rounds = argc > 2 ? atoi(argv[2]) : 100, isa = argc > 3 ? atoi(argv[3]) : 2;
    const int threads = argc > 4 ? atoi(argv[4]) : 1;
    const int one = argc > 5 && strcmp(argv[5], "one") == 0;
    if (T < 1 || rounds < 1 || rounds > 100000 || threads < 1 || (argc > 5 && !one && strcmp(argv[5], "rows") != 0)) {
        fprintf(stderr, "usage: attention_bench [T] [rounds] [isa] [threads] [rows|one]\n");
        return 2;
    }
    const int heads = 9, kv_heads = 3, head_dim = 64, blocks = head_dim / 32;
    const int64_t kv = (int64_t)T * kv_heads * head_dim, qn = (int64_t)T * heads * head_dim;
    float *keys = malloc((size_t)kv * 4), *values = malloc((size_t)kv * 4);   /* T × kv_heads × head_dim */
    float *queries = malloc((size_t)qn * 4), *out = malloc((size_t)qn * 4);  /* T × heads × head_dim */
    for (int64_t i = 0; i < kv; i++) {
        keys[i] = 2 * bench_normal();
        values[i] = 0.5f * bench_normal();
    }
    for (int64_t i = 0; i < qn; i++) queries[i] = 2 * bench_normal();
    /* the cache holds quantised blocks: values T × kv_heads × blocks × 32, exponents per block */
    int16_t *kq = malloc((size_t)kv * 2), *vq = malloc((size_t)kv * 2);
    int32_t *ke = malloc((size_t)T * kv_heads * blocks * 4), *ve = malloc((size_t)T * kv_heads * blocks * 4);
    int32_t *sums = malloc((size_t)T * kv_heads * blocks * 4);
    lk_quantize(NULL, isa, keys, (int64_t)T * kv_heads, head_dim, kq, ke, sums);
    lk_quantize(NULL, isa, values, (int64_t)T * kv_heads, head_dim, vq, ve, sums);
    const lk_attention_cache cache = {heads, kv_heads, head_dim, 0.125f, T, kq, ke, vq, ve};
    int64_t *positions = malloc((size_t)T * 8);
    for (int t = 0; t < T; t++) positions[t] = t;
    const int64_t rows = one ? 1 : T;
    const int64_t *first = one ? positions + T - 1 : positions;
    lk_pool *pool = lk_pool_create(threads);
    double *times = malloc((size_t)rounds * sizeof(double));
    uint64_t hash = 0;
    for (int r = 0; r < rounds; r++) {
        const double t0 = bench_now();
        if (lk_attention(pool, isa, one ? queries + (int64_t)(T - 1) * heads * head_dim : queries, rows, first, &cache, out) != 0) {
            fprintf(stderr, "attention_bench: lk_attention failed\n");
            return 1;
        }
        times[r] = bench_now() - t0;
        if (r == 0) bench_hash(&hash, out, rows * heads * head_dim);
    }
    qsort(times, (size_t)rounds, sizeof(double), bench_by_value);
    printf("T=%d isa=%d threads=%d %s, one layer's attention: best %.4f ms, median %.4f ms; outputs hash %016llx\n", T, isa,
           threads, one ? "one row" : "all rows", times[0] * 1e3, times[rounds / 2] * 1e3, (unsigned long long)hash);
    lk_pool_destroy(pool);
    return 0;
}
