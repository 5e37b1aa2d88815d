/* Light ops compiled for AVX-512 (same source as light_scalar.c). */
#include "lk_internal.h"
#include <stdlib.h>
#ifdef LK_X86
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))), apply_to = function)
#include <immintrin.h>
#define LK_LIGHT_AVX512 1
#define LK_SFX(name) name##_avx512
#include "light.inc"
#pragma clang attribute pop
#endif
