/*
 * Matrix products of SmolLM2-135M's shapes over T tokens on one thread through the C kernels
 * alone (no Swift), with random weights of model-like scales: the panel kernel's throughput
 * without the rest of the engine. Two workloads:
 *   layer — one transformer layer's seven products (Q4_1);
 *   head  — the output head, 49152 × 576 in Q8_0 (the tied embedding), which a replay applies to
 *           every sampled row (T = 129 for 128 generated tokens).
 * Prints the best and the median of the rounds (other load on a shared machine moves single runs
 * by ±30%) and a hash of the outputs, which must not depend on the instruction set (compare with
 * isa 0, the portable C).
 *
 *   matmul_bench [T=140] [rounds=15] [isa=2] [layer|head]     (isa: 0 scalar, 1 AVX2, 2 AVX-512)
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
    const int head = argc > 4 && strcmp(argv[4], "head") == 0;
    if (T < 1 || rounds < 1 || rounds > 1000 || (argc > 4 && !head && strcmp(argv[4], "layer") != 0)) {
        fprintf(stderr, "usage: matmul_bench [T] [rounds] [isa] [layer|head]\n");
        return 2;
    }
    static const int layer_shapes[7][2] = {{576, 576}, {192, 576}, {192, 576}, {576, 576}, {1536, 576}, {1536, 576}, {576, 1536}};
    static const int head_shape[1][2] = {{49152, 576}};
    const int (*shapes)[2] = head ? head_shape : layer_shapes;
    const int count = head ? 1 : 7, format = head ? LK_Q8_0 : LK_Q4_1, block_bytes = head ? 34 : 20;
    uint8_t *w[7];   /* rows × nb blocks of block_bytes */
    int8_t *hints[7];
    double macs = 0;
    for (int m = 0; m < count; m++) {
        const int n = shapes[m][0], nb = shapes[m][1] / 32;
        w[m] = malloc((size_t)n * nb * block_bytes);
        hints[m] = malloc((size_t)n);
        for (int64_t i = 0; i < (int64_t)n * nb; i++) {
            uint8_t *blk = w[m] + i * block_bytes;
            if (format == LK_Q8_0) {
                const uint16_t hd = half(0.001f * (float)(0.5 + bench_uniform()));
                memcpy(blk, &hd, 2);
                for (int j = 0; j < 32; j++) blk[2 + j] = (uint8_t)(int8_t)(40 * bench_normal());
                continue;
            }
            const float d = 0.01f * (float)(0.5 + bench_uniform()), mn = -8 * d * (float)(0.8 + 0.4 * bench_uniform());
            const uint16_t hd = half(d), hm = half(mn);
            memcpy(blk, &hd, 2);
            memcpy(blk + 2, &hm, 2);
            for (int j = 0; j < 16; j++) blk[4 + j] = (uint8_t)bench_next();
        }
        lk_matmul_hints(format, w[m], n, nb, hints[m]);
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
    float *y = malloc((size_t)T * (head ? 49152 : 1536) * 4);
    double *times = malloc((size_t)rounds * sizeof(double));
    uint64_t hash = 0;
    for (int r = 0; r < rounds; r++) {
        const double t0 = bench_now();
        for (int m = 0; m < count; m++) {
            const int n = shapes[m][0], k = shapes[m][1] == 1536;
            lk_matmul(NULL, isa, format, w[m], n, shapes[m][1] / 32, hints[m], v[k], e[k], s[k], T, y);
            if (r == 0) bench_hash(&hash, y, (int64_t)n * T);
        }
        times[r] = bench_now() - t0;
    }
    qsort(times, (size_t)rounds, sizeof(double), bench_by_value);
    printf("T=%d isa=%d, %s on one thread: best %.2f ms (%.1f G multiply-adds/s), median %.2f ms (%.1f G/s); outputs hash %016llx\n",
           T, isa, head ? "the output head's product" : "one layer's products", times[0] * 1e3, macs / times[0] / 1e9, times[rounds / 2] * 1e3, macs / times[rounds / 2] / 1e9, (unsigned long long)hash);
    return 0;
}
