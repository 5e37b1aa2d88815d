#include "cuda_loader.h"
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

static void set_error(char *error, size_t length, const char *what, const char *detail) {
    if (error && length) snprintf(error, length, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
}

#define LOAD(api, name, symbol)                                                   \
    do {                                                                          \
        *(void **)(&(api)->name) = dlsym((api)->handle, symbol);                  \
        if (!(api)->name) {                                                       \
            set_error(error, error_length, "missing symbol", symbol);             \
            dlclose((api)->handle);                                               \
            (api)->handle = NULL;                                                 \
            return -1;                                                            \
        }                                                                         \
    } while (0)

int lk_cuda_load(lk_cuda_api *api, const char *path, char *error, size_t error_length) {
    memset(api, 0, sizeof *api);
    api->handle = dlopen(path ? path : "libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!api->handle) { set_error(error, error_length, "cannot load the CUDA driver", dlerror()); return -1; }
    LOAD(api, cuInit, "cuInit");
    LOAD(api, cuDeviceGetCount, "cuDeviceGetCount");
    LOAD(api, cuDeviceGet, "cuDeviceGet");
    LOAD(api, cuDeviceGetName, "cuDeviceGetName");
    LOAD(api, cuDeviceGetAttribute, "cuDeviceGetAttribute");
    LOAD(api, cuCtxCreate, "cuCtxCreate_v2");
    LOAD(api, cuCtxDestroy, "cuCtxDestroy_v2");
    LOAD(api, cuCtxSetCurrent, "cuCtxSetCurrent");
    LOAD(api, cuCtxSynchronize, "cuCtxSynchronize");
    LOAD(api, cuModuleLoadData, "cuModuleLoadData");
    LOAD(api, cuModuleUnload, "cuModuleUnload");
    LOAD(api, cuModuleGetFunction, "cuModuleGetFunction");
    LOAD(api, cuMemAlloc, "cuMemAlloc_v2");
    LOAD(api, cuMemFree, "cuMemFree_v2");
    LOAD(api, cuMemcpyHtoD, "cuMemcpyHtoD_v2");
    LOAD(api, cuMemcpyDtoH, "cuMemcpyDtoH_v2");
    LOAD(api, cuLaunchKernel, "cuLaunchKernel");
    LOAD(api, cuGetErrorName, "cuGetErrorName");
    return 0;
}

int lk_nvrtc_load(lk_nvrtc_api *api, const char *path, char *error, size_t error_length) {
    memset(api, 0, sizeof *api);
    if (path) {
        api->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    } else {
        api->handle = dlopen("libnvrtc.so.12", RTLD_NOW | RTLD_LOCAL);
        if (!api->handle) api->handle = dlopen("libnvrtc.so", RTLD_NOW | RTLD_LOCAL);
    }
    if (!api->handle) { set_error(error, error_length, "cannot load NVRTC", dlerror()); return -1; }
    LOAD(api, nvrtcVersion, "nvrtcVersion");
    LOAD(api, nvrtcCreateProgram, "nvrtcCreateProgram");
    LOAD(api, nvrtcCompileProgram, "nvrtcCompileProgram");
    LOAD(api, nvrtcGetPTXSize, "nvrtcGetPTXSize");
    LOAD(api, nvrtcGetPTX, "nvrtcGetPTX");
    LOAD(api, nvrtcGetProgramLogSize, "nvrtcGetProgramLogSize");
    LOAD(api, nvrtcGetProgramLog, "nvrtcGetProgramLog");
    LOAD(api, nvrtcDestroyProgram, "nvrtcDestroyProgram");
    LOAD(api, nvrtcGetErrorString, "nvrtcGetErrorString");
    return 0;
}

void lk_library_close(void *handle) {
    if (handle) dlclose(handle);
}
