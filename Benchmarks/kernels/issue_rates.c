/*
 * How fast this machine issues the panel kernel's multiply-add (vpdpwssd zmm) with its operands
 * in registers and with one operand loaded from memory, in time-stamp-counter ticks per
 * instruction (the TSC runs at a fixed rate; only the ratios between rows matter, since this
 * virtual machine exposes no cycle counter).
 *
 *   clang -O2 Benchmarks/kernels/issue_rates.c -o /tmp/issue_rates && /tmp/issue_rates
 *
 * Each measurement runs CHAINS independent accumulators (so that the 4–5 cycle latency of the
 * multiply-add does not bound the rate) for 10^7 rounds and is repeated; the table gives the best
 * of the repeats. The memory forms read a 16 KB buffer that stays in L1. The panel kernel
 * (mm_panel.inc) takes one activation pair per vpdpwssd as a broadcast memory operand and loads
 * one weight vector per 7 of them, so the memory rows bound it.
 *
 * The second table says which of the kernel's other instructions compete with the multiply-adds:
 * each round runs 14 register-form vpdpwssd (14 chains) and then 4 independent instances of one
 * other instruction, and prints the round's ticks. An instruction that needs the multiply-add's
 * unit adds about 4 multiply-add slots to the round; one that issues elsewhere adds nothing. (On
 * the AMD EPYC of session 13, vpmuldq, vpmulld, vpmadd52luq and vfmadd231pd all took a multiply-add
 * slot; vpaddq, shifts, vpmovsxdq and vpshufd were free — so the panel kernel's Q4_1 scaling, two
 * vpmuldq for d'·I and two for m'·S per 16 multiply-adds, costs a quarter more than the
 * multiply-adds alone.)
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <x86intrin.h>

#define ROUNDS 10000000L
#define TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx512dq,avx512ifma")))

static int32_t buffer[4096] __attribute__((aligned(64)));

/* NAME(w, x): ticks per `acc += w·OPERAND` over K independent accumulators, where OPERAND may
   read p, which points at AT (a function of the round n) in the L1-resident buffer. */
#define MEASURE(NAME, K, AT, OPERAND)                                                         \
    TARGET static double NAME(__m512i w, __m512i x) {                                         \
        __m512i acc[K];                                                                       \
        for (int i = 0; i < K; i++) acc[i] = _mm512_set1_epi32(i);                            \
        uint64_t t = __rdtsc();                                                               \
        for (long n = 0; n < ROUNDS; n++) {                                                   \
            const int32_t *p = (AT);                                                          \
            __asm__ volatile("" : "+r"(p));                                                   \
            _Pragma("clang loop unroll(full)") for (int i = 0; i < K; i++) {                  \
                acc[i] = _mm512_dpwssd_epi32(acc[i], w, (OPERAND));                           \
                __asm__ volatile("" : "+v"(acc[i]));                                          \
            }                                                                                 \
        }                                                                                     \
        double ticks = (double)(__rdtsc() - t) / (double)(ROUNDS * K);                        \
        int32_t sink = 0;                                                                     \
        for (int i = 0; i < K; i++) sink ^= _mm512_reduce_add_epi32(acc[i]);                  \
        __asm__ volatile("" : : "r"(sink));                                                   \
        return ticks;                                                                         \
    }

/* registers; a broadcast pair (base + displacement, as in the kernel); a 64-byte vector */
MEASURE(register_form_7, 7, buffer, ((void)p, x))
MEASURE(register_form_14, 14, buffer, ((void)p, x))
MEASURE(broadcast_form_7, 7, buffer + (n & 63) * 16, _mm512_set1_epi32(p[i]))
MEASURE(broadcast_form_14, 14, buffer + (n & 63) * 16, _mm512_set1_epi32(p[i]))
MEASURE(vector_form_7, 7, buffer + (n & 7) * 256, _mm512_load_si512(p + 16 * i))
MEASURE(vector_form_14, 14, buffer + (n & 7) * 256, _mm512_load_si512(p + 16 * i))

/* NAME(w, x): ticks per round of 14 register-form vpdpwssd and 4 independent `OTHER` (an asm
   template on %0, the instance's own register, and %1, a second operand). */
#define MIXED(NAME, OTHER)                                                                       \
    TARGET static double NAME(__m512i w, __m512i x) {                                            \
        __m512i acc[14], o[4];                                                                   \
        for (int i = 0; i < 14; i++) acc[i] = _mm512_set1_epi32(i);                              \
        for (int i = 0; i < 4; i++) o[i] = _mm512_set1_epi32(i + 1);                             \
        uint64_t t = __rdtsc();                                                                  \
        for (long n = 0; n < ROUNDS; n++) {                                                      \
            _Pragma("clang loop unroll(full)") for (int i = 0; i < 14; i++)                     \
                __asm__("vpdpwssd %2, %1, %0" : "+v"(acc[i]) : "v"(w), "v"(x));                \
            _Pragma("clang loop unroll(full)") for (int i = 0; i < 4; i++)                      \
                __asm__(OTHER : "+v"(o[i]) : "v"(w));                                            \
        }                                                                                        \
        double ticks = (double)(__rdtsc() - t) / (double)ROUNDS;                                 \
        int32_t sink = 0;                                                                        \
        for (int i = 0; i < 14; i++) sink ^= _mm512_reduce_add_epi32(acc[i]);                    \
        for (int i = 0; i < 4; i++) sink ^= _mm512_reduce_add_epi32(o[i]);                       \
        __asm__ volatile("" : : "r"(sink));                                                      \
        return ticks;                                                                            \
    }

MIXED(mixed_none, "")
MIXED(mixed_vpmuldq, "vpmuldq %1, %0, %0")
MIXED(mixed_vpmulld, "vpmulld %1, %0, %0")
MIXED(mixed_vpmadd52luq, "vpmadd52luq %1, %1, %0")
MIXED(mixed_vfmadd231pd, "vfmadd231pd %1, %1, %0")
MIXED(mixed_vpaddq, "vpaddq %1, %0, %0")
MIXED(mixed_vpsllvq, "vpsllvq %1, %0, %0")
MIXED(mixed_vpsrlq, "vpsrlq $32, %0, %0")
MIXED(mixed_vpmovsxdq, "vpmovsxdq %t0, %0")
MIXED(mixed_vpshufd, "vpshufd $0xf5, %0, %0")

static double best(double a, double b) { return a < b ? a : b; }

TARGET int main(void) {
    if (!__builtin_cpu_supports("avx512vnni")) {
        fprintf(stderr, "issue_rates: this CPU has no AVX-512 VNNI\n");
        return 1;
    }
    for (int i = 0; i < 4096; i++) buffer[i] = i * 2654435761u;
    __m512i w = _mm512_set1_epi32(3), x = _mm512_set1_epi32(5);
    __asm__ volatile("" : "+v"(w), "+v"(x));
    double r[6] = {1e9, 1e9, 1e9, 1e9, 1e9, 1e9};
    for (int repeat = 0; repeat < 3; repeat++) {
        r[0] = best(r[0], register_form_7(w, x));
        r[1] = best(r[1], register_form_14(w, x));
        r[2] = best(r[2], broadcast_form_7(w, x));
        r[3] = best(r[3], broadcast_form_14(w, x));
        r[4] = best(r[4], vector_form_7(w, x));
        r[5] = best(r[5], vector_form_14(w, x));
    }
    printf("TSC ticks per instruction (best of 3)\n");
    printf("  vpdpwssd zmm, registers,           7 / 14 chains  %.3f / %.3f\n", r[0], r[1]);
    printf("  vpdpwssd zmm, m32{1to16} broadcast, 7 / 14 chains  %.3f / %.3f\n", r[2], r[3]);
    printf("  vpdpwssd zmm, m512 operand,        7 / 14 chains  %.3f / %.3f\n", r[4], r[5]);

    static const char *const names[] = {"nothing", "vpmuldq", "vpmulld", "vpmadd52luq", "vfmadd231pd",
                                        "vpaddq", "vpsllvq", "vpsrlq", "vpmovsxdq", "vpshufd"};
    double (*const mixed[])(__m512i, __m512i) = {mixed_none, mixed_vpmuldq, mixed_vpmulld, mixed_vpmadd52luq,
                                                 mixed_vfmadd231pd, mixed_vpaddq, mixed_vpsllvq, mixed_vpsrlq,
                                                 mixed_vpmovsxdq, mixed_vpshufd};
    printf("TSC ticks per round of 14 vpdpwssd zmm (registers) + 4 independent X (best of 3)\n");
    for (int k = 0; k < 10; k++) {
        double m = 1e9;
        for (int repeat = 0; repeat < 3; repeat++) m = best(m, mixed[k](w, x));
        printf("  X = %-12s %6.2f\n", names[k], m);
    }
    return 0;
}
