#!/usr/bin/env bash
# The main job: build; generate greedily on the real model (the built-in tiny model when the real
# one cannot be fetched), streaming the tokens and writing a signed trace; then verify the trace
# by teacher-forced replay with lockstep-verify (exit 0 when every leaf matches).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
swift build -c release --product lockstep 2>&1 | grep -v "^\[" >&2 || true
swift build -c release --product lockstep-verify 2>&1 | grep -v "^\[" >&2 || true
BIN=.build/release
test -x "$BIN/lockstep" -a -x "$BIN/lockstep-verify" || { echo "run: build failed" >&2; exit 1; }
CACHE="${LOCKSTEP_CACHE:-$HOME/.cache/lockstep}"
MODEL="${LOCKSTEP_MODEL:-$CACHE/SmolLM2-135M-Instruct.Q4_1.gguf}"
if [ ! -f "$MODEL" ]; then
  MODEL="$CACHE/lockstep-tiny-1.gguf"
  [ -f "$MODEL" ] || "$BIN/lockstep" tiny-model --out "$MODEL" >/dev/null
  echo "run: the real model could not be fetched; using the built-in tiny model $MODEL" >&2
fi
TRACE="$CACHE/run.trace"
"$BIN/lockstep" info --model "$MODEL"
"$BIN/lockstep" generate --model "$MODEL" --prompt "${PROMPT:-The capital of France is}" --max-tokens "${MAX_TOKENS:-32}" --trace "$TRACE" "$@"
echo "== lockstep-verify replay --trace $TRACE"
"$BIN/lockstep-verify" replay --model "$MODEL" --trace "$TRACE"
