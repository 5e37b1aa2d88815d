/* The batched matmul kernel (mm_panel.inc) for AVX-512 without VNNI: vpmaddwd + vpaddd. */
#include "lk_internal.h"
#include <stdlib.h>
#ifdef LK_X86
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))), apply_to = function)
#include "mm_avx512.h"
#define LKP_VNNI 0
#define LKP_SFX(name) name##_avx512
#include "mm_panel.inc"
#pragma clang attribute pop
#endif
