/*
 * The trace's row hashing: SHA-256 of `count` messages shaped like step digests (§7.3) — the
 * 17-byte domain tag, a 9-byte step header, a row of `width` binary32 values and, for sample
 * steps, a 4-byte token — in AVX-512 lanes (lk_sha256_lanes) and one message at a time with
 * OpenSSL (as SHA256Hasher does). By default 128 rows of 49152 logits, a replay's sample steps
 * on SmolLM2-135M; `width` 576 gives its layer steps. Prints the best round of each, their
 * throughput and ratio, and exits 1 when any digest differs.
 *
 *   sha256_bench [count=128] [width=49152] [rounds=7]
 */
#include "lockstep_kernels.h"
#include "bench_support.h"
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    const int count = argc > 1 ? atoi(argv[1]) : 128, width = argc > 2 ? atoi(argv[2]) : 49152;
    const int rounds = argc > 3 ? atoi(argv[3]) : 7;
    if (count < 1 || width < 1 || rounds < 1) {
        fprintf(stderr, "usage: sha256_bench [count] [width] [rounds]\n");
        return 2;
    }
    const int sample = width > 4096;   /* logits rows carry a token */
    const int parts = sample ? 4 : 3;
    const int64_t lengths[4] = {17, 9, 4 * (int64_t)width, 4};
    static const uint8_t tag[17] = "lockstep.step.v1";
    uint8_t *rows = malloc((size_t)count * (size_t)lengths[2]);   /* count × width binary32 */
    uint8_t *headers = malloc((size_t)count * 9), *tokens = malloc((size_t)count * 4);
    for (int64_t i = 0; i < (int64_t)count * lengths[2]; i++) rows[i] = (uint8_t)bench_next();
    for (int i = 0; i < count * 9; i++) headers[i] = (uint8_t)bench_next();
    for (int i = 0; i < count * 4; i++) tokens[i] = (uint8_t)bench_next();
    const uint8_t **ptrs = malloc((size_t)count * (size_t)parts * sizeof *ptrs);
    for (int m = 0; m < count; m++) {
        ptrs[m * parts] = tag;
        ptrs[m * parts + 1] = headers + 9 * m;
        ptrs[m * parts + 2] = rows + (int64_t)m * lengths[2];
        if (sample) ptrs[m * parts + 3] = tokens + 4 * m;
    }
    uint8_t *lanes = malloc((size_t)count * 32), *one = malloc((size_t)count * 32);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    double best_lanes = 1e9, best_one = 1e9;
    for (int r = 0; r < rounds; r++) {
        double t0 = bench_now();
        if (!lk_sha256_lanes(count, parts, ptrs, lengths, lanes)) {
            fprintf(stderr, "lk_sha256_lanes: no AVX-512 on this machine\n");
            return 2;
        }
        double t1 = bench_now();
        for (int m = 0; m < count; m++) {
            unsigned n = 0;
            EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
            for (int j = 0; j < parts; j++) EVP_DigestUpdate(ctx, ptrs[m * parts + j], (size_t)lengths[j]);
            EVP_DigestFinal_ex(ctx, one + 32 * m, &n);
        }
        double t2 = bench_now();
        best_lanes = t1 - t0 < best_lanes ? t1 - t0 : best_lanes;
        best_one = t2 - t1 < best_one ? t2 - t1 : best_one;
    }
    EVP_MD_CTX_free(ctx);
    const double bytes = (double)count * (double)(17 + 9 + lengths[2] + (sample ? 4 : 0));
    const int same = memcmp(lanes, one, (size_t)count * 32) == 0;
    printf("sha256 %d messages of %.0f bytes, one thread: lanes %.2f ms (%.2f GB/s), OpenSSL %.2f ms (%.2f GB/s), %.2fx; digests %s\n",
           count, bytes / count, best_lanes * 1e3, bytes / best_lanes * 1e-9, best_one * 1e3, bytes / best_one * 1e-9,
           best_one / best_lanes, same ? "equal" : "DIFFER");
    return same ? 0 : 1;
}
