#!/usr/bin/env bash
# The test suite: installs what it needs (C libraries, the real model, NVRTC for the CUDA
# compile check), then runs every test in a release build (the real-model tests are too slow
# unoptimised). What was fetched must be tested: LOCKSTEP_REQUIRE_* turn skips into failures.
set -euo pipefail
cd "$(dirname "$0")/.."
model=$(bash scripts/setup.sh | tail -n 1)
if [ -n "$model" ]; then export LOCKSTEP_REQUIRE_MODEL=1; fi
nvrtc=$(bash scripts/fetch-nvrtc.sh | tail -n 1)
if [ -n "$nvrtc" ]; then export LOCKSTEP_NVRTC="$nvrtc" LOCKSTEP_REQUIRE_NVRTC=1; fi
export LOCKSTEP_REQUIRE_OPENCL=1
# The independent Python vector runners need numpy (pip, idempotent).
python3 -c "import numpy" 2>/dev/null || python3 -m pip install --quiet numpy
swift build -c release -Xswiftc -enable-testing --build-tests
log=$(mktemp)
set +e
swift test -c release -Xswiftc -enable-testing --skip-build --disable-swift-testing "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# The vectors on every backend, the Python runners, and the regeneration guard.
LOCKSTEP_SKIP_BUILD=1 bash scripts/vectors-check.sh || status=1
python3 Vectors/commitments/check_vectors.py || status=1
set -e
# One plain closing line for machines: "N passed, N failed".
summary=$(grep -E "^[[:space:]]*Executed [0-9]+ tests?, with" "$log" | tail -n 1)
rm -f "$log"
count() { echo "$summary" | grep -oE "[0-9]+ $1" | grep -oE '^[0-9]+' | head -n 1; }
total=$(count "tests?,")
failed=$(count "failures?")
skipped=$(count "tests? skipped")
skipped=${skipped:-0}
if [ -n "$total" ] && [ -n "$failed" ]; then
  echo "$((total - failed - skipped)) passed, $failed failed, $skipped skipped"
fi
exit "$status"
