/*
 * Conformance harness for the C kernels on their own (no Swift): reads vectors written by
 * LockstepConformanceTests (inputs and the reference backend's outputs), runs every op on
 * every instruction set this build can run and on 1 and 2 threads, and compares the bits
 * (any NaN matches any NaN, as in the Swift suite). Used to check the NEON path: the test
 * cross-compiles this file with the kernels for AArch64 and runs it under qemu-user.
 *
 * Compiled only with -DLOCKSTEP_KERNELS_HARNESS; empty in the package build.
 */
#ifdef LOCKSTEP_KERNELS_HARNESS
#include "lockstep_kernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE *in;
static long cases, compared, failures;

static void rd(void *p, size_t n) {
    if (n && fread(p, 1, n, in) != n) { fprintf(stderr, "harness: truncated vector file\n"); exit(2); }
}
static int64_t rd64(void) { int64_t v; rd(&v, 8); return v; }
static int32_t rd32(void) { int32_t v; rd(&v, 4); return v; }
static void *rdarr(size_t n) { void *p = malloc(n ? n : 1); rd(p, n); return p; }

static int same_f32(float a, float b) {
    uint32_t x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    return x == y || (a != a && b != b);
}

static void check_f32(const char *op, int isa, int threads, const float *got, const float *want, int64_t n) {
    cases++;
    compared += n;
    for (int64_t i = 0; i < n; i++)
        if (!same_f32(got[i], want[i])) {
            failures++;
            fprintf(stderr, "FAIL %s case %ld %s/%dt: index %lld got %a want %a\n", op, cases, lk_isa_name(isa & 0xFF), threads,
                    (long long)i, got[i], want[i]);
            return;
        }
}

static void check_bytes(const char *op, int isa, const void *got, const void *want, size_t n, size_t elem) {
    cases++;
    compared += (long)(n / elem);
    if (memcmp(got, want, n) != 0) {
        failures++;
        fprintf(stderr, "FAIL %s case %ld %s\n", op, cases, lk_isa_name(isa));
    }
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: harness VECTORS\n"); return 2; }
    in = fopen(argv[1], "rb");
    if (!in) { perror(argv[1]); return 2; }
    char magic[4];
    rd(magic, 4);
    if (memcmp(magic, "LKV1", 4) != 0) { fprintf(stderr, "harness: bad magic\n"); return 2; }
    int isas[LK_ISA_COUNT], nisa = 0;
    for (int i = 0; i < LK_ISA_COUNT; i++) if (lk_isa_supported(i)) isas[nisa++] = i;
    lk_pool *pool2 = lk_pool_create(2);
    for (;;) {
        int32_t op = rd32();
        if (op == 0) break;
        switch (op) {
        case 1: {   /* quantize */
            int64_t rows = rd64(), cols = rd64(), nb = (cols + 31) / 32;
            float *x = rdarr((size_t)(rows * cols) * 4);
            int16_t *wv = rdarr((size_t)(rows * nb * 32) * 2);
            int32_t *we = rdarr((size_t)(rows * nb) * 4), *ws = rdarr((size_t)(rows * nb) * 4);
            int16_t *v = calloc((size_t)(rows * nb * 32), 2);
            int32_t *e = calloc((size_t)(rows * nb), 4), *s = calloc((size_t)(rows * nb), 4);
            for (int k = 0; k < nisa; k++)
                for (int th = 1; th <= 2; th++) {
                    lk_quantize(th == 1 ? NULL : pool2, isas[k], x, rows, cols, v, e, s);
                    check_bytes("quantize values", isas[k], v, wv, (size_t)(rows * nb * 32) * 2, 2);
                    check_bytes("quantize exponents", isas[k], e, we, (size_t)(rows * nb) * 4, 4);
                    check_bytes("quantize sums", isas[k], s, ws, (size_t)(rows * nb) * 4, 4);
                }
            free(x); free(wv); free(we); free(ws); free(v); free(e); free(s);
            break;
        }
        case 2: {   /* matmul */
            int32_t fmt = rd32();
            int64_t rows = rd64(), nb = rd64(), T = rd64();
            int64_t bb = fmt == LK_Q8_0 ? 34 : fmt == LK_Q4_0 ? 18 : 20;
            uint8_t *w = rdarr((size_t)(rows * nb * bb));
            int16_t *xv = rdarr((size_t)(T * nb * 32) * 2);
            int32_t *xe = rdarr((size_t)(T * nb) * 4), *xs = rdarr((size_t)(T * nb) * 4);
            float *want = rdarr((size_t)(T * rows) * 4), *y = malloc((size_t)(T * rows) * 4);
            int8_t *hints = malloc((size_t)rows);
            lk_matmul_hints(fmt, w, rows, nb, hints);
            for (int k = 0; k < nisa; k++)
                for (int th = 1; th <= 2; th++) {
                    for (int64_t i = 0; i < T * rows; i++) y[i] = -1.0f;
                    lk_matmul(th == 1 ? NULL : pool2, isas[k], fmt, w, rows, nb, th == 1 ? NULL : hints, xv, xe, xs, T, y);
                    check_f32("matmul", isas[k], th, y, want, T * rows);
                }
            free(w); free(xv); free(xe); free(xs); free(want); free(y); free(hints);
            break;
        }
        case 3: {   /* rms norm */
            int64_t rows = rd64(), n = rd64();
            float eps;
            rd(&eps, 4);
            float *x = rdarr((size_t)(rows * n) * 4), *w = rdarr((size_t)n * 4), *want = rdarr((size_t)(rows * n) * 4);
            float *y = malloc((size_t)(rows * n) * 4);
            for (int k = 0; k < nisa; k++)
                for (int th = 1; th <= 2; th++) {
                    lk_rms_norm(th == 1 ? NULL : pool2, isas[k], x, w, rows, n, eps, y);
                    check_f32("rms_norm", isas[k], th, y, want, rows * n);
                }
            free(x); free(w); free(want); free(y);
            break;
        }
        case 4: {   /* rope */
            int64_t rows = rd64(), heads = rd64(), hd = rd64(), pairs = rd64();
            int64_t *pos = rdarr((size_t)rows * 8);
            double *freq = rdarr((size_t)pairs * 8);
            int64_t n = rows * heads * hd;
            float *x = rdarr((size_t)n * 4), *want = rdarr((size_t)n * 4), *y = malloc((size_t)n * 4);
            for (int k = 0; k < nisa; k++)
                for (int th = 1; th <= 2; th++) {
                    memcpy(y, x, (size_t)n * 4);
                    lk_rope(th == 1 ? NULL : pool2, isas[k], y, rows, heads, hd, pos, freq, pairs);
                    check_f32("rope", isas[k], th, y, want, n);
                }
            free(pos); free(freq); free(x); free(want); free(y);
            break;
        }
        case 5: {   /* silu_mul */
            int64_t n = rd64();
            float *g = rdarr((size_t)n * 4), *u = rdarr((size_t)n * 4), *want = rdarr((size_t)n * 4), *y = malloc((size_t)n * 4);
            for (int k = 0; k < nisa; k++)
                for (int th = 1; th <= 2; th++) {
                    lk_silu_mul(th == 1 ? NULL : pool2, isas[k], g, u, y, n);
                    check_f32("silu_mul", isas[k], th, y, want, n);
                }
            free(g); free(u); free(want); free(y);
            break;
        }
        case 6: {   /* add */
            int64_t n = rd64();
            float *x = rdarr((size_t)n * 4), *yv = rdarr((size_t)n * 4), *want = rdarr((size_t)n * 4), *z = malloc((size_t)n * 4);
            for (int k = 0; k < nisa; k++)
                for (int th = 1; th <= 2; th++) {
                    memcpy(z, x, (size_t)n * 4);
                    lk_add(th == 1 ? NULL : pool2, isas[k], z, yv, n);
                    check_f32("add", isas[k], th, z, want, n);
                }
            free(x); free(yv); free(want); free(z);
            break;
        }
        case 7: {   /* attention */
            lk_attention_cache c;
            c.heads = rd64();
            c.kv_heads = rd64();
            c.head_dim = rd64();
            c.cache_length = rd64();
            int64_t rows = rd64();
            rd(&c.scale, 4);
            int64_t bph = (c.head_dim + 31) / 32, blocks = c.cache_length * c.kv_heads * bph;
            int64_t *pos = rdarr((size_t)rows * 8);
            int16_t *keys = rdarr((size_t)(blocks * 32) * 2);
            int32_t *ke = rdarr((size_t)blocks * 4);
            int16_t *vals = rdarr((size_t)(blocks * 32) * 2);
            int32_t *ve = rdarr((size_t)blocks * 4);
            int64_t n = rows * c.heads * c.head_dim;
            float *q = rdarr((size_t)n * 4), *want = rdarr((size_t)n * 4), *y = malloc((size_t)n * 4);
            c.keys = keys;
            c.key_exponents = ke;
            c.values = vals;
            c.value_exponents = ve;
            for (int k = 0; k < nisa; k++)
                for (int th = 1; th <= 2; th++) {
                    if (lk_attention(th == 1 ? NULL : pool2, isas[k], q, rows, pos, &c, y) != 0) {
                        failures++;
                        fprintf(stderr, "FAIL attention rejected the shape\n");
                    }
                    check_f32("attention", isas[k], th, y, want, n);
                }
            free(pos); free(keys); free(ke); free(vals); free(ve); free(q); free(want); free(y);
            break;
        }
        default:
            fprintf(stderr, "harness: unknown op %d\n", op);
            return 2;
        }
    }
    lk_pool_destroy(pool2);
    printf("isas:");
    for (int k = 0; k < nisa; k++) printf(" %s", lk_isa_name(isas[k]));
    printf("\ncases %ld compared %ld failures %ld\n", cases, compared, failures);
    return failures ? 1 : 0;
}
#else
typedef int lk_harness_not_built;
#endif
