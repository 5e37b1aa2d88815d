#!/usr/bin/env bash
# Verification cost against generation (issue 5: replay well below generation, spot-check with
# K = 16 at most 2% of it), release build, real model.
#
#   Benchmarks/verify_cost.sh [ROUNDS]             (default 3 rounds)
#
# Environment: LOCKSTEP_MODEL (default: the real model in the cache), BACKEND (default cpu, used
# for generating and verifying), THREADS (default: the processor count, at most 8, as
# `lockstep generate` defaults), TOKENS (default 128), SAMPLES (spot-check K, default 16).
#
# Each round, in this order: `lockstep generate --trace --trace-activations --key` writes a greedy
# generation of TOKENS tokens (checked: no end token before the last), then `lockstep-verify
# replay` and `lockstep-verify spot-check --samples SAMPLES --seed ROUND` check that trace (the
# seed varies the sampled steps between rounds; a layer step L(p, l) costs more for a larger p).
# Per round and as medians it prints:
#   generation   the "seconds" field of `lockstep generate --json`: prompt and generation with
#                tracing (step hashing, the trace file, the signature); not model loading.
#   replay       "recompute_seconds" of `replay --json`: the teacher-forced forward passes and
#                their hashing, and its ratio to generation; "verify_seconds" adds reading and
#                verifying the whole trace file.
#   spot-check   "verify_seconds" of `spot-check --json`: ALL of its verification work — indexing
#                the file ("trace_read_seconds": every record's leaf, chain, root, signature),
#                opening the sampled steps and their inputs ("open_seconds": reading the states,
#                checking them against their leaves and the signed root) and recomputing them
#                ("recompute_seconds") — and its ratio to generation. Groups of sampled steps
#                run on "lanes" threads at once, and open and recompute are summed over them,
#                so read + open + recompute can exceed verify_seconds.
#   wall         each verifier process from start to exit (date +%s.%N around it): adds loading
#                the model, hashing its weights and preparing the backend for them ("model_setup_seconds",
#                once per model).
# Ratios are taken per round (generation and verification run back to back), then the median;
# the last line also compares the fastest run of each, which other load on a shared machine
# disturbs least. Every figure is noisy there: rerun when other work ran.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
BACKEND=${BACKEND:-cpu}
NAME=verify_cost
source Benchmarks/verifier_setup.sh
trap 'rm -rf "$WORK"' EXIT
"$BIN" keygen --out "$WORK/node.key" >/dev/null

now() { date +%s.%N; }

: >"$WORK/results"
for ((r = 1; r <= ROUNDS; r++)); do
  "$BIN" generate --model "$MODEL" --backend "$BACKEND" --threads "$THREADS" --prompt "$PROMPT" --max-tokens "$TOKENS" \
    --trace "$WORK/t.trace" --trace-activations --key "$WORK/node.key" --json >"$WORK/generate.json"
  common=(--model "$MODEL" --backend "$BACKEND" --threads "$THREADS" --trace "$WORK/t.trace" --json)
  t0=$(now)
  "$VERIFY" replay "${common[@]}" >"$WORK/replay.json"
  t1=$(now)
  "$VERIFY" spot-check "${common[@]}" --samples "$SAMPLES" --seed "$r" >"$WORK/spot.json"
  t2=$(now)
  python3 - "$WORK" "$r" "$TOKENS" "$t0" "$t1" "$t2" <<'PY' | tee -a "$WORK/results" >&2
import json, os, sys
work, r, tokens, t0, t1, t2 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *map(float, sys.argv[4:])
g = json.load(open(os.path.join(work, "generate.json")))
rp = json.load(open(os.path.join(work, "replay.json")))
sp = json.load(open(os.path.join(work, "spot.json")))
assert len(g["tokens"]) == tokens, f"the generation stopped after {len(g['tokens'])} of {tokens} tokens"
assert rp["holds"] and sp["holds"], (rp["reason"], sp["reason"])
print(json.dumps({"round": r, "prompt_tokens": len(g["prompt_tokens"]), "output_tokens": len(g["tokens"]),
                  "trace_bytes": os.path.getsize(os.path.join(work, "t.trace")), "steps": rp["steps"],
                  "generation": g["seconds"],
                  "replay_recompute": rp["recompute_seconds"], "replay_verify": rp["verify_seconds"],
                  "replay_read": rp["trace_read_seconds"], "replay_wall": t1 - t0,
                  "spot_verify": sp["verify_seconds"], "spot_read": sp["trace_read_seconds"],
                  "spot_open": sp["open_seconds"], "spot_recompute": sp["recompute_seconds"], "spot_wall": t2 - t1,
                  "spot_distinct": sp["distinct_steps_recomputed"], "model_setup": sp["model_setup_seconds"]}))
PY
done

python3 - "$WORK/results" "$BACKEND" "$THREADS" "$SAMPLES" <<'PY'
import json, statistics, sys
path, backend, threads, samples = sys.argv[1:]
rows = [json.loads(line) for line in open(path)]
med = lambda k: statistics.median(x[k] for x in rows)
ratio = lambda k: statistics.median(x[k] / x["generation"] for x in rows)
r0 = rows[0]
print(f"\n{r0['prompt_tokens']} prompt + {r0['output_tokens']} generated tokens (greedy), {r0['steps']} steps, "
      f"trace with states {r0['trace_bytes'] / 1e6:.1f} MB; backend {backend}, {threads} thread(s), {len(rows)} rounds")
print("round  generation   replay recompute (%)   spot-check K=" + samples + " verify (%)  [read + open + recompute]   wall: replay, spot-check")
for x in rows:
    print(f"{x['round']:5}  {x['generation']:8.3f} s  {x['replay_recompute']:8.3f} s ({100 * x['replay_recompute'] / x['generation']:5.1f}%)"
          f"   {x['spot_verify']:8.4f} s ({100 * x['spot_verify'] / x['generation']:4.2f}%)"
          f"  [{x['spot_read']:.4f} + {x['spot_open']:.4f} + {x['spot_recompute']:.4f}]"
          f"   {x['replay_wall']:.2f} s, {x['spot_wall']:.2f} s")
print(f"median generation                      {med('generation'):.3f} s")
print(f"median replay recompute                {med('replay_recompute'):.3f} s = {100 * ratio('replay_recompute'):.1f}% of generation "
      f"(with reading the trace: {med('replay_verify'):.3f} s, {100 * ratio('replay_verify'):.1f}%)")
print(f"median spot-check K={samples} verification   {med('spot_verify'):.4f} s = {100 * ratio('spot_verify'):.2f}% of generation "
      f"(read {med('spot_read'):.4f} s, open {med('spot_open'):.4f} s, recompute {med('spot_recompute'):.4f} s)")
print(f"median process wall time               replay {med('replay_wall'):.2f} s, spot-check {med('spot_wall'):.2f} s "
      f"(includes loading the model, hashing its weights and preparing the backend: {med('model_setup'):.3f} s)")
low = lambda k: min(x[k] for x in rows)
print(f"fastest of each (min / min, less sensitive to other load): generation {low('generation'):.3f} s, "
      f"replay recompute {100 * low('replay_recompute') / low('generation'):.1f}%, "
      f"spot-check {100 * low('spot_verify') / low('generation'):.2f}%")
PY
