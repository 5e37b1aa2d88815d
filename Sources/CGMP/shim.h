#pragma once
// Thin shim over GMP for LockstepNative. gmp.h spells its API as macros (`#define mpz_add
// __gmpz_add`) and some functions as macros or extern-inline definitions (mpz_sgn, mpz_size),
// which Swift does not import under their documented names; these static inline wrappers give
// each call LockstepNative uses one plain C function.
#include <stddef.h>
#include <gmp.h>

static inline void lockstep_mpz_init(mpz_ptr z) { mpz_init(z); }
static inline void lockstep_mpz_clear(mpz_ptr z) { mpz_clear(z); }
static inline void lockstep_mpz_set(mpz_ptr r, mpz_srcptr a) { mpz_set(r, a); }
static inline void lockstep_mpz_set_si(mpz_ptr r, long v) { mpz_set_si(r, v); }
static inline void lockstep_mpz_set_ui(mpz_ptr r, unsigned long v) { mpz_set_ui(r, v); }
/// Returns 0 on success, -1 if `s` is not a valid number in `base` (r is then unspecified).
static inline int lockstep_mpz_set_str(mpz_ptr r, const char *s, int base) { return mpz_set_str(r, s, base); }
/// Writes the digits (with a leading '-' if negative) and a NUL into `buf`, which must hold
/// mpz_sizeinbase(a, base) + 2 bytes.
static inline void lockstep_mpz_get_str(char *buf, int base, mpz_srcptr a) { (void)mpz_get_str(buf, base, a); }
static inline size_t lockstep_mpz_sizeinbase(mpz_srcptr a, int base) { return mpz_sizeinbase(a, base); }
static inline int lockstep_mpz_fits_slong_p(mpz_srcptr a) { return mpz_fits_slong_p(a); }
static inline long lockstep_mpz_get_si(mpz_srcptr a) { return mpz_get_si(a); }

static inline void lockstep_mpz_add(mpz_ptr r, mpz_srcptr a, mpz_srcptr b) { mpz_add(r, a, b); }
static inline void lockstep_mpz_sub(mpz_ptr r, mpz_srcptr a, mpz_srcptr b) { mpz_sub(r, a, b); }
static inline void lockstep_mpz_mul(mpz_ptr r, mpz_srcptr a, mpz_srcptr b) { mpz_mul(r, a, b); }
/// r += a * b
static inline void lockstep_mpz_addmul(mpz_ptr r, mpz_srcptr a, mpz_srcptr b) { mpz_addmul(r, a, b); }
static inline void lockstep_mpz_neg(mpz_ptr r, mpz_srcptr a) { mpz_neg(r, a); }
static inline void lockstep_mpz_abs(mpz_ptr r, mpz_srcptr a) { mpz_abs(r, a); }
/// r = a mod m, 0 <= r < |m|; m must be non-zero.
static inline void lockstep_mpz_mod(mpz_ptr r, mpz_srcptr a, mpz_srcptr m) { mpz_mod(r, a, m); }
/// Truncating division (C semantics): q = trunc(a / d), d non-zero.
static inline void lockstep_mpz_tdiv_q(mpz_ptr q, mpz_srcptr a, mpz_srcptr d) { mpz_tdiv_q(q, a, d); }
/// r = b^e mod m; e >= 0, m non-zero.
static inline void lockstep_mpz_powm(mpz_ptr r, mpz_srcptr b, mpz_srcptr e, mpz_srcptr m) { mpz_powm(r, b, e, m); }
/// Returns non-zero and sets r = a^-1 mod m if the inverse exists.
static inline int lockstep_mpz_invert(mpz_ptr r, mpz_srcptr a, mpz_srcptr m) { return mpz_invert(r, a, m); }
/// 2 = definitely prime, 1 = probably prime, 0 = composite.
static inline int lockstep_mpz_probab_prime_p(mpz_srcptr a, int reps) { return mpz_probab_prime_p(a, reps); }
static inline int lockstep_mpz_cmp(mpz_srcptr a, mpz_srcptr b) { return mpz_cmp(a, b); }
static inline int lockstep_mpz_sgn(mpz_srcptr a) { return mpz_sgn(a); }

/// Magnitude from `count` big-endian bytes (sign is not encoded).
static inline void lockstep_mpz_import_be(mpz_ptr r, size_t count, const void *bytes) {
    mpz_import(r, count, 1, 1, 1, 0, bytes);
}
/// Number of bytes of the magnitude of `a` (0 for zero).
static inline size_t lockstep_mpz_byte_count(mpz_srcptr a) {
    return mpz_sgn(a) == 0 ? 0 : (mpz_sizeinbase(a, 2) + 7) / 8;
}
/// Writes the magnitude of `a` big-endian into `out`, which must hold lockstep_mpz_byte_count(a)
/// bytes; returns the number of bytes written.
static inline size_t lockstep_mpz_export_be(void *out, mpz_srcptr a) {
    size_t count = 0;
    mpz_export(out, &count, 1, 1, 1, 0, a);
    return count;
}
