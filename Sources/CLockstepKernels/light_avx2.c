/* Light ops compiled for AVX2 (same source as light_scalar.c). */
#include "lk_internal.h"
#include <stdlib.h>
#ifdef LK_X86
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#include <immintrin.h>
#define LK_LIGHT_AVX2 1
#define LK_SFX(name) name##_avx2
#include "light.inc"
#pragma clang attribute pop
#endif
