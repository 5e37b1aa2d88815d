#!/usr/bin/env bash
# Fetches NVRTC (the CUDA runtime compiler) from the PyPI wheel nvidia-cuda-nvrtc-cu12 into the
# cache, idempotently, so CI can compile every CUDA kernel to PTX without a GPU or a driver.
# Prints the path of libnvrtc.so.12 on success; prints nothing when it cannot be fetched.
set -euo pipefail
CACHE="${LOCKSTEP_CACHE:-$HOME/.cache/lockstep}"
VERSION=12.9.86
DIR="$CACHE/nvrtc-$VERSION"
LIB="$DIR/nvidia/cuda_nvrtc/lib/libnvrtc.so.12"
if [ ! -f "$LIB" ]; then
  mkdir -p "$CACHE/dl"
  if python3 -m pip download --no-deps --quiet --only-binary=:all: -d "$CACHE/dl" "nvidia-cuda-nvrtc-cu12==$VERSION" >&2; then
    mkdir -p "$DIR"
    unzip -o -q "$CACHE"/dl/nvidia_cuda_nvrtc_cu12-"$VERSION"-*.whl 'nvidia/cuda_nvrtc/lib/*' -d "$DIR"
  else
    echo "fetch-nvrtc: could not fetch nvidia-cuda-nvrtc-cu12==$VERSION; CUDA kernels will not be compile-checked" >&2
  fi
fi
if [ -f "$LIB" ]; then echo "$LIB"; fi
