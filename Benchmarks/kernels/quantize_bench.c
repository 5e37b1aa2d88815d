/*
 * Activation quantisation (SPEC §2.1) of a rows × columns binary32 matrix through the C kernels
 * alone: by default 140 × 1536, the input of a replay's down projection. Values are random with
 * block scales across seven binades, plus a few blocks of edge values (NaN, ±inf, subnormals,
 * signed zeros, huge values, rounding ties) that take the portable path. Prints the best round
 * and a hash of the integers, exponents and sums, which must not depend on the instruction set
 * (compare with isa 0, the portable C).
 *
 *   quantize_bench [rows=140] [columns=1536] [rounds=200] [isa=2]
 */
#include "lockstep_kernels.h"
#include "bench_support.h"
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    const int rows = argc > 1 ? atoi(argv[1]) : 140, cols = argc > 2 ? atoi(argv[2]) : 1536;
    const int rounds = argc > 3 ? atoi(argv[3]) : 200, isa = argc > 4 ? atoi(argv[4]) : 2;
    if (rows < 1 || cols < 480 || rounds < 1) {
        fprintf(stderr, "usage: quantize_bench [rows] [columns ≥ 480] [rounds] [isa]\n");
        return 2;
    }
    const int64_t n = (int64_t)rows * cols, nb = (cols + 31) / 32;
    float *x = malloc((size_t)n * 4);   /* rows × columns */
    for (int64_t i = 0; i < n; i++) x[i] = 0.01f * bench_normal() * (float)(1 << ((i / 32) % 7));
    x[5] = __builtin_nanf("");
    x[40] = __builtin_inff();
    x[70] = -__builtin_inff();
    x[100] = 1e-40f;
    x[130] = -0.0f;
    for (int j = 0; j < 32; j++) {
        x[320 + j] = 1e-42f * (float)j;             /* subnormals only */
        x[352 + j] = (j % 2 ? 3e38f : -3e38f);      /* huge */
        x[384 + j] = 0.0f;                          /* zeros */
        x[416 + j] = 0.5f * (float)(j - 16);        /* ties after scaling */
    }
    int16_t *v = malloc((size_t)(rows * nb * 32) * 2);   /* rows × blocks × 32 */
    int32_t *e = malloc((size_t)(rows * nb) * 4), *s = malloc((size_t)(rows * nb) * 4);   /* rows × blocks */
    double best = 1e9;
    for (int r = 0; r < rounds; r++) {
        const double t0 = bench_now();
        lk_quantize(NULL, isa, x, rows, cols, v, e, s);
        const double t = bench_now() - t0;
        best = t < best ? t : best;
    }
    uint64_t hash = 0;
    for (int64_t i = 0; i < rows * nb * 32; i++) hash = hash * 1000003u + (uint16_t)v[i];
    for (int64_t i = 0; i < rows * nb; i++) hash = hash * 1000003u + (uint32_t)e[i] * 7u + (uint32_t)s[i];
    printf("quantize %d × %d isa=%d, one thread: best %.1f µs (%.3f ns per value); outputs hash %016llx\n", rows, cols, isa,
           best * 1e6, best * 1e9 / (double)n, (unsigned long long)hash);
    return 0;
}
