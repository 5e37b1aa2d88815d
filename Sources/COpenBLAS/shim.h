#pragma once
// OpenBLAS: cblas_* and openblas_* are plain functions, imported as declared.
#include <cblas.h>
