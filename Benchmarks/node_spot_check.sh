#!/usr/bin/env bash
# Spot-checking a live node's answer (SPEC §9.5): what a verifier fetches and how long it takes,
# by the trace without states (the node opens only the sampled states) against the trace with
# states (fetched whole), release build, real model, over loopback.
#
#   Benchmarks/node_spot_check.sh [ROUNDS]             (default 5 rounds)
#
# Environment: LOCKSTEP_MODEL (default: the real model in the cache), THREADS (default: the
# processor count, at most 8), TOKENS (default 128), SAMPLES (spot-check K, default 16).
#
# It starts `lockstep serve` on a free loopback port, asks it for one greedy generation of TOKENS
# tokens without states, and runs `lockstep-verify spot-check --samples SAMPLES --seed ROUND`
# against the answer's URL once first (the node then recomputes the states on demand: reported
# apart), then ROUNDS times against each URL, alternated. Per run it prints the process's wall
# time (date +%s.%N around it: model loading, the download, the fetch and the check), the bytes
# the verifier received (the trace, plus the opened states when asked of the node),
# "states_fetch_seconds" and "verify_seconds" of `--json`; then the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
NAME=node_spot_check
source Benchmarks/verifier_setup.sh
"$BIN" serve --model "$MODEL" --threads "$THREADS" --port 0 --trace-dir "$WORK/traces" 2>"$WORK/serve.log" &
NODE=$!
trap 'kill $NODE 2>/dev/null; wait $NODE 2>/dev/null; rm -rf "$WORK"' EXIT
PORT=
for _ in $(seq 1 500); do
  PORT=$(sed -n 's|.* on http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$WORK/serve.log" | head -1)
  [ -n "$PORT" ] && break
  sleep 0.02
done
[ -n "$PORT" ] || { cat "$WORK/serve.log" >&2; echo "node_spot_check: the node did not start" >&2; exit 1; }
NODE_URL="http://127.0.0.1:$PORT"

python3 -c 'import json,sys; print(json.dumps({"prompt": sys.argv[1], "max_tokens": int(sys.argv[2])}))' "$PROMPT" "$TOKENS" \
  | curl -sS --fail-with-body -X POST "$NODE_URL/v1/generate" --data-binary @- >"$WORK/answer.json"
URL="$NODE_URL$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["trace_url"])' "$WORK/answer.json")"

# run LABEL URL SEED: one spot-check, one line of results.
run() {
  local t0 t1
  t0=$(date +%s.%N)
  "$VERIFY" spot-check --model "$MODEL" --threads "$THREADS" --trace "$2" --samples "$SAMPLES" --seed "$3" --json >"$WORK/spot.json"
  t1=$(date +%s.%N)
  python3 - "$1" "$WORK" "$t0" "$t1" <<'PY' | tee -a "$WORK/results" >&2
import json, os, sys
label, work, t0, t1 = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
s = json.load(open(os.path.join(work, "spot.json")))
a = json.load(open(os.path.join(work, "answer.json")))
assert s["holds"], s["reason"]
trace_bytes = a["trace_bytes"] if s["states_from"] == "node" else os.path.getsize(os.path.join(work, "traces", a["trace_id"] + "-states.trace"))
received = trace_bytes + s.get("states_fetched_bytes", 0)
print(json.dumps({"run": label, "states_from": s["states_from"], "received_bytes": received, "wall": t1 - t0,
                  "fetch": s.get("states_fetch_seconds", 0.0), "verify": s["verify_seconds"], "read": s["trace_read_seconds"]}))
PY
}

: >"$WORK/results"
run first "$URL" 0
: >"$WORK/results"
for ((r = 1; r <= ROUNDS; r++)); do
  run "round $r" "$URL" "$r"
  run "round $r" "$URL-states" "$r"
done
python3 - "$WORK/results" "$TOKENS" "$SAMPLES" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"\n{sys.argv[2]} greedy tokens, spot-check K = {sys.argv[3]}, {len(rows) // 2} rounds each (medians):")
for source, name in [("node", "trace without states + opened states from the node"), ("trace", "trace with states, fetched whole")]:
    r = [x for x in rows if x["states_from"] == source]
    med = lambda k: statistics.median(x[k] for x in r)
    print(f"  {name}: received {med('received_bytes') / 1e6:.2f} MB, process wall {med('wall'):.3f} s, "
          f"states fetch {med('fetch'):.4f} s, verify_seconds {med('verify'):.4f} s (indexing {med('read'):.4f} s)")
PY
