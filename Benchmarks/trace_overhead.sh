#!/usr/bin/env bash
# Tracing overhead: the same generation request with and without --trace, interleaved in one run
# (A B B A order per round, so drift in machine load hits both sides alike), release build.
#
#   Benchmarks/trace_overhead.sh [ROUNDS]          (default 5 rounds = 10 runs per variant)
#
# Environment: LOCKSTEP_MODEL (default: the real model in the cache), TOKENS (default 32),
# BACKEND (default reference), THREADS (default 1), ACTIVATIONS=1 to also time --trace-activations.
# Times are the "cpu_seconds" (process CPU time) and "seconds" (wall) fields of
# `lockstep generate --json`: prompt + generation + (traced) step hashing, the trace file and the
# signature; model loading and the once-per-model digest are outside. CPU time is the headline:
# on a shared machine wall time mostly measures the neighbours (the reference backend is
# single-threaded, so on a quiet machine the two agree).
# Prints one line per run, then per variant the median and minimum, and the overhead as the median
# of the per-round ratios (each round runs every variant twice). Traced runs also report
# "trace_seconds", the time spent inside the tracing code itself (hashing, chain, tree, file,
# signature), measured in the same process as the generation: its share of the run is the
# overhead without the run-to-run noise of a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
TOKENS=${TOKENS:-32}
BACKEND=${BACKEND:-reference}
THREADS=${THREADS:-1}
MODEL=${LOCKSTEP_MODEL:-${LOCKSTEP_CACHE:-$HOME/.cache/lockstep}/SmolLM2-135M-Instruct.Q4_1.gguf}
[ -f "$MODEL" ] || { echo "trace_overhead: model not found at $MODEL (run scripts/setup.sh)" >&2; exit 1; }

swift build -c release --product lockstep >&2
BIN=.build/release/lockstep
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$BIN" keygen --out "$WORK/node.key" >/dev/null
PROMPT="Once upon a time, in a small village by the sea,"  # 13 tokens; 32 generated without an end token

run() {  # $1 = variant: plain | traced | activations; prints seconds
  local extra=()
  case "$1" in
    traced) extra=(--trace "$WORK/t.trace" --key "$WORK/node.key") ;;
    activations) extra=(--trace "$WORK/t.trace" --key "$WORK/node.key" --trace-activations) ;;
  esac
  "$BIN" generate --model "$MODEL" --backend "$BACKEND" --threads "$THREADS" --prompt "$PROMPT" \
    --max-tokens "$TOKENS" --json "${extra[@]}" |
    python3 -c 'import json,sys; o=json.load(sys.stdin); assert len(o["tokens"])==int(sys.argv[1]), "generation stopped early"; print(o["cpu_seconds"], o["seconds"], len(o["prompt_tokens"]), len(o["tokens"]), o.get("trace_seconds", 0))' "$TOKENS"
}

variants=(plain traced)
[ "${ACTIVATIONS:-0}" = 1 ] && variants+=(activations)
run plain >/dev/null  # warm-up (page cache, CPU frequency)
: >"$WORK/results"
for ((r = 1; r <= ROUNDS; r++)); do
  order=("${variants[@]}")
  for v in "${order[@]}"; do echo "$r $v $(run "$v")" | tee -a "$WORK/results" >&2; done
  reversed=()
  for ((i = ${#order[@]} - 1; i >= 0; i--)); do reversed+=("${order[i]}"); done
  for v in "${reversed[@]}"; do echo "$r $v $(run "$v")" | tee -a "$WORK/results" >&2; done
done

python3 - "$WORK/results" "$TOKENS" "$BACKEND" "$THREADS" <<'PY'
import sys, statistics, collections
path, tokens, backend, threads = sys.argv[1:]
runs = {m: collections.defaultdict(lambda: collections.defaultdict(list)) for m in ("cpu", "wall")}
shares = collections.defaultdict(list)
shape = set()
for line in open(path):
    r, v, cpu, wall, np, ng, trace = line.split()
    runs["cpu"][v][int(r)].append(float(cpu))
    runs["wall"][v][int(r)].append(float(wall))
    if v != "plain":
        shares[v].append(float(trace) / (float(wall) - float(trace)))
    shape.add((int(np), int(ng)))
(np, ng), = shape
print(f"\n{np} prompt + {ng} generated tokens, backend {backend}, {threads} thread(s), "
      f"{len(runs['cpu']['plain'])} rounds × 2 runs per variant")
for m in ("cpu", "wall"):
    base = {r: statistics.mean(x) for r, x in runs[m]["plain"].items()}
    for v, per_round in runs[m].items():
        allv = sum(per_round.values(), [])
        line = f"  {m:4} {v + ':':12} median {statistics.median(allv):.3f} s, min {min(allv):.3f} s"
        if v != "plain":
            ratios = [statistics.mean(x) / base[r] for r, x in per_round.items()]
            mins = min(allv) / min(sum(runs[m]["plain"].values(), []))
            line += (f", overhead {100 * (statistics.median(ratios) - 1):+.2f}% (median of per-round ratios, range "
                     f"{100 * (min(ratios) - 1):+.2f}% … {100 * (max(ratios) - 1):+.2f}%; min vs min {100 * (mins - 1):+.2f}%)")
        print(line)
for v, x in shares.items():
    print(f"  in-run tracing time ({v}): median {100 * statistics.median(x):.2f}% of the untraced work "
          f"(range {100 * min(x):.2f}% … {100 * max(x):.2f}%)")
PY
