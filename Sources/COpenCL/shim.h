#pragma once
// OpenCL 1.2 API surface for LockstepNative (clCreateCommandQueue is the 1.2 spelling, kept so that
// 1.2-only platforms work). Constants are plain integer macros that Swift imports directly.
#define CL_TARGET_OPENCL_VERSION 120
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>

/// CL_PLATFORM_NOT_FOUND_KHR (cl_khr_icd): what an ICD loader returns when no platform is installed.
static inline cl_int lockstep_cl_platform_not_found_khr(void) { return -1001; }
