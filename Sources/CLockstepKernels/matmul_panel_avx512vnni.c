/* The batched matmul kernel (mm_panel.inc) for AVX-512 VNNI: vpdpwssd. */
#include "lk_internal.h"
#include <stdlib.h>
#ifdef LK_X86
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))), apply_to = function)
#include "mm_avx512.h"
#define LKP_VNNI 1
#define LKP_SFX(name) name##_avx512vnni
#include "mm_panel.inc"
#pragma clang attribute pop
#endif
