#pragma once
/* The CUDA driver API and NVRTC, loaded at run time with dlopen so that Lockstep builds and
   tests where no CUDA exists. Only the handful of entry points the cuda backend uses are
   declared, with our own minimal type declarations (ABI-compatible with cuda.h / nvrtc.h). */
#include <stddef.h>

typedef int lk_CUresult;
typedef int lk_CUdevice;
typedef struct lk_CUctx_st *lk_CUcontext;
typedef struct lk_CUmod_st *lk_CUmodule;
typedef struct lk_CUfunc_st *lk_CUfunction;
typedef struct lk_CUstream_st *lk_CUstream;
typedef unsigned long long lk_CUdeviceptr;

typedef struct {
    void *handle;
    lk_CUresult (*cuInit)(unsigned int flags);
    lk_CUresult (*cuDeviceGetCount)(int *count);
    lk_CUresult (*cuDeviceGet)(lk_CUdevice *device, int ordinal);
    lk_CUresult (*cuDeviceGetName)(char *name, int len, lk_CUdevice device);
    lk_CUresult (*cuDeviceGetAttribute)(int *value, int attribute, lk_CUdevice device);
    lk_CUresult (*cuCtxCreate)(lk_CUcontext *context, unsigned int flags, lk_CUdevice device);
    lk_CUresult (*cuCtxDestroy)(lk_CUcontext context);
    lk_CUresult (*cuCtxSetCurrent)(lk_CUcontext context);
    lk_CUresult (*cuCtxSynchronize)(void);
    lk_CUresult (*cuModuleLoadData)(lk_CUmodule *module, const void *image);
    lk_CUresult (*cuModuleUnload)(lk_CUmodule module);
    lk_CUresult (*cuModuleGetFunction)(lk_CUfunction *function, lk_CUmodule module, const char *name);
    lk_CUresult (*cuMemAlloc)(lk_CUdeviceptr *pointer, size_t bytes);
    lk_CUresult (*cuMemFree)(lk_CUdeviceptr pointer);
    lk_CUresult (*cuMemcpyHtoD)(lk_CUdeviceptr destination, const void *source, size_t bytes);
    lk_CUresult (*cuMemcpyDtoH)(void *destination, lk_CUdeviceptr source, size_t bytes);
    lk_CUresult (*cuLaunchKernel)(lk_CUfunction f, unsigned int gridX, unsigned int gridY, unsigned int gridZ,
                                  unsigned int blockX, unsigned int blockY, unsigned int blockZ,
                                  unsigned int sharedBytes, lk_CUstream stream, void **parameters, void **extra);
    lk_CUresult (*cuGetErrorName)(lk_CUresult error, const char **name);
} lk_cuda_api;

typedef int lk_nvrtcResult;
typedef struct lk_nvrtcProgram_st *lk_nvrtcProgram;

typedef struct {
    void *handle;
    lk_nvrtcResult (*nvrtcVersion)(int *major, int *minor);
    lk_nvrtcResult (*nvrtcCreateProgram)(lk_nvrtcProgram *program, const char *source, const char *name,
                                         int headerCount, const char *const *headers, const char *const *includeNames);
    lk_nvrtcResult (*nvrtcCompileProgram)(lk_nvrtcProgram program, int optionCount, const char *const *options);
    lk_nvrtcResult (*nvrtcGetPTXSize)(lk_nvrtcProgram program, size_t *size);
    lk_nvrtcResult (*nvrtcGetPTX)(lk_nvrtcProgram program, char *ptx);
    lk_nvrtcResult (*nvrtcGetProgramLogSize)(lk_nvrtcProgram program, size_t *size);
    lk_nvrtcResult (*nvrtcGetProgramLog)(lk_nvrtcProgram program, char *log);
    lk_nvrtcResult (*nvrtcDestroyProgram)(lk_nvrtcProgram *program);
    const char *(*nvrtcGetErrorString)(lk_nvrtcResult result);
} lk_nvrtc_api;

/* Load the driver API from `path` (NULL: "libcuda.so.1"). Returns 0 on success; otherwise fills
   `error` (dlerror text or the missing symbol) and returns -1. */
int lk_cuda_load(lk_cuda_api *api, const char *path, char *error, size_t error_length);
/* Load NVRTC from `path` (NULL: "libnvrtc.so.12", then "libnvrtc.so"). */
int lk_nvrtc_load(lk_nvrtc_api *api, const char *path, char *error, size_t error_length);
/* dlclose the library behind an api table. */
void lk_library_close(void *handle);
