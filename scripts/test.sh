#!/usr/bin/env bash
# The test suite: installs what it needs (C libraries, the real model), then runs every test in
# a release build (the real-model tests are too slow unoptimised). With the real model fetched,
# the tests that need it must run (LOCKSTEP_REQUIRE_MODEL=1); OpenCL tests must run too.
set -euo pipefail
cd "$(dirname "$0")/.."
model=$(bash scripts/setup.sh | tail -n 1)
if [ -n "$model" ]; then export LOCKSTEP_REQUIRE_MODEL=1; fi
export LOCKSTEP_REQUIRE_OPENCL=1
swift build -c release -Xswiftc -enable-testing --build-tests
swift test -c release -Xswiftc -enable-testing --skip-build "$@"
