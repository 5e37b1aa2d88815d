/*
 * One transformer layer's matrix products (SmolLM2-135M shapes, Q4_1, random weights with
 * model-like scales) over T tokens on one thread through the C kernels alone (no Swift): the
 * panel kernel's throughput without the rest of the engine. Prints the best and the median of
 * the rounds (other load on a shared machine moves single runs by ±30%) and a hash of the
 * outputs, which must not depend on the instruction set (compare with isa 0, the portable C).
 *
 *   matmul_bench [T=140] [rounds=15] [isa=2]      (isa: 0 scalar, 1 AVX2, 2 AVX-512)
 */
#include "lockstep_kernels.h"
#include "bench_support.h"
#include <stdio.h>
#include <stdlib.h>

/* binary32 → fp16 bits, for normal values in fp16's range (truncating) */
static uint16_t half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000;
    const int e = (int)((x >> 23) & 0xFF) - 127 + 15;
    return e <= 0 ? (uint16_t)sign : (uint16_t)(sign | (uint32_t)e << 10 | ((x >> 13) & 0x3FF));
}

int main(int argc, char **argv) {
    const int T = argc > 1 ? atoi(argv[1]) : 140, rounds = argc > 2 ? atoi(argv[2]) : 15, isa = argc > 3 ? atoi(argv[3]) : 2;
    if (T < 1 || rounds < 1 || rounds > 1000) { fprintf(stderr, "usage: matmul_bench [T] [rounds] [isa]\n"); return 2; }
    static const int shapes[7][2] = {{576, 576}, {192, 576}, {192, 576}, {576, 576}, {1536, 576}, {1536, 576}, {576, 1536}};
    uint8_t *w[7];   /* rows × nb Q4_1 blocks of 20 bytes */
    int8_t *hints[7];
    double macs = 0;
    for (int m = 0; m < 7; m++) {
        const int n = shapes[m][0], nb = shapes[m][1] / 32;
        w[m] = malloc((size_t)n * nb * 20);
        hints[m] = malloc((size_t)n);
        for (int64_t i = 0; i < (int64_t)n * nb; i++) {
            uint8_t *blk = w[m] + i * 20;
            const float d = 0.01f * (float)(0.5 + bench_uniform()), mn = -8 * d * (float)(0.8 + 0.4 * bench_uniform());
            const uint16_t hd = half(d), hm = half(mn);
            memcpy(blk, &hd, 2);
            memcpy(blk + 2, &hm, 2);
            for (int j = 0; j < 16; j++) blk[4 + j] = (uint8_t)bench_next();
        }
        lk_matmul_hints(LK_Q4_1, w[m], n, nb, hints[m]);
        macs += (double)n * shapes[m][1] * T;
    }
    /* activations [T × 576] and [T × 1536], quantised once */
    int16_t *v[2];
    int32_t *e[2], *s[2];
    for (int k = 0; k < 2; k++) {
        const int cols = k ? 1536 : 576, nb = cols / 32;
        float *x = malloc((size_t)T * cols * 4);
        for (int64_t i = 0; i < (int64_t)T * cols; i++) x[i] = bench_normal();
        v[k] = malloc((size_t)T * cols * 2);
        e[k] = malloc((size_t)T * nb * 4);
        s[k] = malloc((size_t)T * nb * 4);
        lk_quantize(NULL, isa, x, T, cols, v[k], e[k], s[k]);
        free(x);
    }
    float *y = malloc((size_t)T * 1536 * 4);
    double *times = malloc((size_t)rounds * sizeof(double));
    uint64_t hash = 0;
    for (int r = 0; r < rounds; r++) {
        const double t0 = bench_now();
        for (int m = 0; m < 7; m++) {
            const int n = shapes[m][0], k = shapes[m][1] == 1536;
            lk_matmul(NULL, isa, LK_Q4_1, w[m], n, shapes[m][1] / 32, hints[m], v[k], e[k], s[k], T, y);
            if (r == 0) bench_hash(&hash, y, (int64_t)n * T);
        }
        times[r] = bench_now() - t0;
    }
    qsort(times, (size_t)rounds, sizeof(double), bench_by_value);
    printf("T=%d isa=%d, one layer's products on one thread: best %.2f ms (%.1f G multiply-adds/s), median %.2f ms (%.1f G/s); outputs hash %016llx\n",
           T, isa, times[0] * 1e3, macs / times[0] / 1e9, times[rounds / 2] * 1e3, macs / times[rounds / 2] / 1e9, (unsigned long long)hash);
    return 0;
}
