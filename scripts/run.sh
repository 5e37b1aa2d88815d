#!/usr/bin/env bash
# The main job: build, then generate greedily on the real model (the built-in tiny model when
# the real one cannot be fetched), streaming the tokens.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
swift build -c release --product lockstep 2>&1 | grep -v "^\[" >&2 || true
BIN=.build/release/lockstep
test -x "$BIN" || { echo "run: build failed" >&2; exit 1; }
"$BIN" info
"$BIN" generate --prompt "${PROMPT:-The capital of France is}" --max-tokens "${MAX_TOKENS:-32}" "$@"
