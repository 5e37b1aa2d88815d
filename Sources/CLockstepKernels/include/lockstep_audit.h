#pragma once
/*
 * Kernels of the Freivalds audit (SPEC §8.5), kept apart from the product kernels:
 *
 *   - the prover side: the exact, unrounded matrix products (the certificate an audited
 *     backend states for the products it rounded);
 *   - the verifier side: arithmetic in GF(p), p = 2^127 − 1, applied to weight matrices,
 *     quantised activations and certificates.
 *
 * Integers only: no floating-point operation is used anywhere in these kernels.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- prover side: exact unrounded products ---------------------------------------------- */

/**
 * The exact values Z[t][r] = Σ_k w[r,k]·x[t,k] that `lk_matmul` rounds to binary32 (SPEC §2.3),
 * for weight rows `r0 ≤ r < r1` and every activation row `t < xrows`.
 *
 * Each value is written as `sig · 2^exp` with `sig` a two's-complement 128-bit integer stored as
 * two 64-bit words at `sig[2i]` (low) and `sig[2i + 1]` (high), `i = t·rows + r`; `exp[i]` is
 * the exponent and `ok[i]` is 1. When the exact value needs more than 127 bits of significand
 * (a sum whose terms span more than about 86 octaves), `ok[i]` is 0 and `sig`, `exp` are 0.
 * A zero sum is `sig = 0, exp = 0`. The weights and activations are as for `lk_matmul`.
 */
void lk_exact_products(int format, const uint8_t *weights, int64_t rows, int64_t blocks_per_row,
                       const int16_t *x_values, const int32_t *x_exponents, const int32_t *x_sums,
                       int64_t xrows, int64_t r0, int64_t r1, uint64_t *sig, int32_t *exp, uint8_t *ok);

/* ---- verifier side: GF(2^127 − 1) -------------------------------------------------------- */

/** An element of GF(p), p = 2^127 − 1: the canonical representative `lo + hi·2^64 < p`. */
typedef struct {
    uint64_t lo, hi;
} lk_m127;

/** (a + b) mod p. */
lk_m127 lk_m127_add(lk_m127 a, lk_m127 b);
/** (a − b) mod p. */
lk_m127 lk_m127_sub(lk_m127 a, lk_m127 b);
/** (a · b) mod p. */
lk_m127 lk_m127_mul(lk_m127 a, lk_m127 b);
/** a · 2^e mod p for any integer e (2^127 ≡ 1, so this is a rotation of the 127 bits). */
lk_m127 lk_m127_pow2(lk_m127 a, int64_t e);
/** The image of the dyadic rational `sig · 2^exp` (sig: two's-complement low/high words). */
lk_m127 lk_m127_dyadic(uint64_t sig_lo, uint64_t sig_hi, int64_t exp);
/** The canonical representative of the 128-bit unsigned integer `lo + hi·2^64`. */
lk_m127 lk_m127_reduce(uint64_t lo, uint64_t hi);

/**
 * The left combination u = rᵀ·φ(W): `u[k] = Σ_{r < rows} c[r]·φ(w[r,k])` for every column
 * `k < blocks_per_row·32` of the weight matrix (format as `lk_matmul`), with φ the map of
 * dyadic rationals into GF(p). `c` holds `rows` elements, `u` receives `blocks_per_row·32`.
 * Costs rows·blocks_per_row field multiplications and rows·blocks_per_row·32 products of a
 * field element by a weight integer (accumulated without reduction).
 */
void lk_m127_left_combination(int format, const uint8_t *weights, int64_t rows, int64_t blocks_per_row,
                              const lk_m127 *c, lk_m127 *u);

/**
 * `out[t] = Σ_k u[k]·φ(x[t,k])` for every activation row `t < xrows`, where activation row `t`
 * is `blocks_per_row` blocks of 32 integers `x_values` with exponents `x_exponents`.
 */
void lk_m127_apply_activations(const lk_m127 *u, int64_t blocks_per_row, const int16_t *x_values,
                               const int32_t *x_exponents, int64_t xrows, lk_m127 *out);

/**
 * `out[t] = Σ_{r < rows} c[r]·φ(Z[t][r])` for every `t < xrows`, where Z is a certificate in
 * the layout of `lk_exact_products` (entry `t·rows + r`; `sig` two words per entry). Entries of
 * rows `t` with `skip[t] ≠ 0` are not read (`out[t]` is then 0); `skip` may be NULL.
 */
void lk_m127_combine_certificate(const lk_m127 *c, int64_t rows, const uint64_t *sig, const int32_t *exp,
                                 int64_t xrows, const uint8_t *skip, lk_m127 *out);

#ifdef __cplusplus
}
#endif
