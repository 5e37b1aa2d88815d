#!/usr/bin/env bash
# CI guard for the determinism test vectors (Vectors/ops, Vectors/models):
#   1. every vector passes on every backend available here (release build);
#   2. the independent Python runner passes every op vector;
#   3. regenerating the vectors changes no committed file unless the contract version changed
#      (a changed expected bit without a version bump is an error; so is a bump without
#      regenerated vectors).
# Honours LOCKSTEP_REQUIRE_OPENCL=1 (the opencl backend must run) and LOCKSTEP_REQUIRE_MODEL=1
# (the real model's vectors must run, not be skipped). Set LOCKSTEP_SKIP_BUILD=1 to use the
# existing release build. Exit status 0 only when all three hold.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=.build/release/lockstep
if [ "${LOCKSTEP_SKIP_BUILD:-0}" != 1 ]; then
  # The same flags as scripts/test.sh, so the two share one release build.
  swift build -c release -Xswiftc -enable-testing --product lockstep >&2
fi
[ -x "$bin" ] || { echo "vectors-check: $bin is not built" >&2; exit 1; }

status=0
fail() { echo "vectors-check: FAIL: $*" >&2; status=1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. Every vector on every backend.
echo "== lockstep vectors run --backend all" >&2
if ! "$bin" vectors run --backend all --dir Vectors | tee "$tmp/run.txt"; then
  fail "vectors failed (see the FAIL lines above)"
fi
if [ "${LOCKSTEP_REQUIRE_OPENCL:-0}" = 1 ] && grep -q '^unavailable: opencl' "$tmp/run.txt"; then
  fail "LOCKSTEP_REQUIRE_OPENCL=1 but the opencl backend is unavailable"
fi
if [ "${LOCKSTEP_REQUIRE_MODEL:-0}" = 1 ] && ! tail -n 1 "$tmp/run.txt" | grep -qE ' 0 skipped$'; then
  fail "LOCKSTEP_REQUIRE_MODEL=1 but some vectors were skipped"
fi

# 2. The independent Python runner.
echo "== python3 Vectors/tools/run_op_vectors.py" >&2
if ! python3 -c 'import numpy' 2>/dev/null; then
  fail "python3 with numpy is needed for Vectors/tools/run_op_vectors.py (apt-get install python3-numpy)"
elif ! python3 Vectors/tools/run_op_vectors.py Vectors; then
  fail "the Python runner failed"
fi

# 3. Regeneration changes nothing unless the contract version changed.
echo "== lockstep vectors generate (into a temporary directory)" >&2
"$bin" vectors generate --dir "$tmp/gen" > "$tmp/generate.txt"
version() { sed -n 's/^  "contractVersion": "\(.*\)",$/\1/p' "$1" | head -n 1; }
for sub in ops models; do
  for new in "$tmp/gen/$sub"/*.json; do
    [ -e "$new" ] || continue
    path="$sub/$(basename "$new")"
    old="Vectors/$path"
    if [ ! -e "$old" ]; then
      fail "Vectors/$path is generated but not committed (run: lockstep vectors generate)"
    elif ! cmp -s "$old" "$new"; then
      if [ "$(version "$old")" = "$(version "$new")" ]; then
        fail "Vectors/$path changes on regeneration but the contract version is still $(version "$new"): a changed expected bit needs a version bump (Papers/SPEC.md §1.2)"
      else
        fail "Vectors/$path is for contract $(version "$old"), this build is $(version "$new"): commit the regenerated vectors"
      fi
    fi
  done
  for old in Vectors/"$sub"/*.json; do
    [ -e "$old" ] || continue
    path="$sub/$(basename "$old")"
    if [ ! -e "$tmp/gen/$path" ]; then
      if grep -q "^skipped $tmp/gen/$path:" "$tmp/generate.txt"; then
        echo "vectors-check: note: not regenerated here: $(grep "^skipped $tmp/gen/$path:" "$tmp/generate.txt" | sed 's/^skipped [^:]*: //')" >&2
        if [ "${LOCKSTEP_REQUIRE_MODEL:-0}" = 1 ]; then fail "Vectors/$path could not be regenerated"; fi
      else
        fail "Vectors/$path is committed but no longer generated"
      fi
    fi
  done
done

if [ "$status" = 0 ]; then echo "vectors-check: all vectors pass and regenerate unchanged" >&2; fi
exit "$status"
