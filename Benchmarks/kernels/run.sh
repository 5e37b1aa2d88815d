#!/usr/bin/env bash
# The panel kernel on its own: builds Benchmarks/kernels/matmul_bench.c with the C kernels (the
# package's C flags) and runs it for a replay-sized batch, then checks that the portable C path
# gives the same outputs hash.
#
#   Benchmarks/kernels/run.sh [T=140] [ROUNDS=15]
set -euo pipefail
cd "$(dirname "$0")/../.."
T=${1:-140}
ROUNDS=${2:-15}
K=Sources/CLockstepKernels
BIN=$(mktemp -d)/matmul_bench
trap 'rm -rf "$(dirname "$BIN")"' EXIT
clang -O2 -ffp-contract=off -fno-fast-math -I"$K/include" -I"$K" "$K"/*.c Benchmarks/kernels/matmul_bench.c -o "$BIN" -lpthread -lm
"$BIN" "$T" "$ROUNDS" 2
"$BIN" "$T" 1 0
