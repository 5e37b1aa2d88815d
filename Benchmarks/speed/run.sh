#!/usr/bin/env bash
# Speed and memory beside the peer, in one run: each backend of `lockstep bench` and llama.cpp
# (llama-cpp-python 0.3.36 built from source with DESIGN §6's flags, cached in
# $LOCKSTEP_CACHE/peer-venv, built on first use: about 6 minutes), alternating, REPS times.
# Writes Benchmarks/speed/results.json, a markdown table on stdout and results.svg (a bar plot).
# Usage: Benchmarks/speed/run.sh [backends...]   (default: cpu blas reference)
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE="${LOCKSTEP_CACHE:-$HOME/.cache/lockstep}"
VENV="$CACHE/peer-venv"
REPS="${REPS:-3}" PROMPT="${PROMPT_TOKENS:-128}" DECODE="${DECODE_TOKENS:-64}" THREADS="${THREADS:-2}"
BACKENDS=("${@:-cpu blas reference}")
read -r -a BACKENDS <<< "${BACKENDS[*]}"
model=$(bash scripts/setup.sh | tail -n 1)
[ -n "$model" ] || { echo "speed: the real model is needed" >&2; exit 1; }
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
  echo "speed: building llama-cpp-python 0.3.36 from source (once)" >&2
  python3 -m venv "$VENV"
  CMAKE_ARGS="-DGGML_BLAS=ON -DGGML_BLAS_VENDOR=OpenBLAS -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" \
    "$VENV/bin/pip" install --quiet --no-binary llama-cpp-python --no-cache-dir llama-cpp-python==0.3.36 numpy >&2
fi
swift build -c release --product lockstep >&2
BIN=.build/release/lockstep
ids=$(mktemp)
"$BIN" generate --prompt "$(printf 'The quick brown fox jumps over the lazy dog while the band plays on. %.0s' $(seq 1 40))" --max-tokens 0 --json \
  | python3 -c "import json,sys; ids=json.load(sys.stdin)['prompt_tokens'][:$PROMPT]; assert len(ids)==$PROMPT, len(ids); print(' '.join(map(str, ids)))" > "$ids"
results=()
for rep in $(seq 1 "$REPS"); do
  for b in "${BACKENDS[@]}"; do
    results+=("$("$BIN" bench --backend "$b" --threads "$THREADS" --prompt-tokens "$PROMPT" --decode-tokens "$DECODE" --prompt-file "$ids" --json)")
  done
  results+=("$("$VENV/bin/python" Benchmarks/speed/llamacpp_bench.py "$model" "$ids" "$DECODE" "$THREADS")")
done
rm -f "$ids"
printf '%s\n' "${results[@]}" | python3 Benchmarks/speed/summarise.py Benchmarks/speed/results.json Benchmarks/speed/results.svg
