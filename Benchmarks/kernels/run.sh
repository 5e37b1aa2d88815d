#!/usr/bin/env bash
# The kernels on their own: builds Benchmarks/kernels/matmul_bench.c, attention_bench.c,
# quantize_bench.c and sha256_bench.c with the C kernels (the package's C flags) and runs them
# for a replay-sized batch — one layer's products, the output head's over the sampled rows
# (T − 11: a 12-token prompt), one layer's attention, the quantisation of the down projection's
# input — and attention for one decode row, then checks that the portable C path gives the same
# outputs hashes; then the hashing of a replay's rows (T − 12 logits rows and T layer rows) in
# SHA-256 lanes against OpenSSL, which must give the same digests.
#
#   Benchmarks/kernels/run.sh [T=140] [ROUNDS=15]
set -euo pipefail
cd "$(dirname "$0")/../.."
T=${1:-140}
ROUNDS=${2:-15}
K=Sources/CLockstepKernels
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
for bench in matmul_bench attention_bench quantize_bench; do
  clang -O2 -ffp-contract=off -fno-fast-math -I"$K/include" -I"$K" "$K"/*.c "Benchmarks/kernels/$bench.c" -o "$DIR/$bench" -lpthread -lm
done
clang -O2 -ffp-contract=off -fno-fast-math -I"$K/include" -I"$K" "$K"/*.c Benchmarks/kernels/sha256_bench.c -o "$DIR/sha256_bench" -lpthread -lm -lcrypto
"$DIR/matmul_bench" "$T" "$ROUNDS" 2
"$DIR/matmul_bench" "$T" 1 0
"$DIR/matmul_bench" $((T - 11)) "$(((ROUNDS + 2) / 3))" 2 head
"$DIR/matmul_bench" $((T - 11)) 1 0 head
"$DIR/attention_bench" "$T" $((ROUNDS * 10)) 2 1 rows
"$DIR/attention_bench" "$T" 1 0 1 rows
"$DIR/attention_bench" "$T" $((ROUNDS * 100)) 2 2 one
"$DIR/attention_bench" "$T" 1 0 1 one
"$DIR/quantize_bench" "$T" 1536 $((ROUNDS * 10)) 2
"$DIR/quantize_bench" "$T" 1536 1 0
"$DIR/sha256_bench" $((T - 12)) 49152 "$ROUNDS"
"$DIR/sha256_bench" "$T" 576 "$ROUNDS"
