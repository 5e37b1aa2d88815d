/* Light ops, portable C (also the path for CPUs without a dedicated copy). */
#include "lk_internal.h"
#include <stdlib.h>
#define LK_SFX(name) name##_scalar
#include "light.inc"

float lk_contract_expf(float x) { return expf_scalar(x); }
