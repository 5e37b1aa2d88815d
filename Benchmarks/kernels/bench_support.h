/* What the kernel benches share: a clock, a seeded generator, and the sorting of round times. */
#pragma once
#include <stdint.h>
#include <string.h>
#include <time.h>

static inline double bench_now(void) {   /* seconds, monotonic */
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t bench_state = 0x1234567;
static inline uint64_t bench_next(void) {   /* SplitMix64 */
    uint64_t z = (bench_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static inline double bench_uniform(void) { return (double)(bench_next() >> 11) * 0x1p-53; }   /* [0, 1) */
static inline float bench_normal(void) {   /* about N(0, 1): a sum of four uniforms */
    double s = 0;
    for (int i = 0; i < 4; i++) s += bench_uniform();
    return (float)((s - 2) * 1.732);
}

/* qsort comparator for doubles, ascending */
static inline int bench_by_value(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* folds n binary32 values' bits into *hash (order-dependent) */
static inline void bench_hash(uint64_t *hash, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        *hash = *hash * 1000003u + u;
    }
}
