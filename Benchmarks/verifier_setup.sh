# Sourced by the verifier benchmarks (verify_cost.sh, node_spot_check.sh) after `cd` to the
# package root, with NAME set to the script's name for its messages. Sets THREADS (default: the
# processor count, at most 8, as `lockstep generate` defaults), TOKENS (default 128), SAMPLES
# (spot-check K, default 16) and MODEL (LOCKSTEP_MODEL, default: the real model in the cache,
# which must exist); builds both products in release and sets BIN and VERIFY to them, and WORK
# to a fresh temporary directory (the caller removes it); PROMPT is the benchmarks' prompt.
THREADS=${THREADS:-$(n=$(nproc); echo $((n < 8 ? n : 8)))}
TOKENS=${TOKENS:-128}
SAMPLES=${SAMPLES:-16}
MODEL=${LOCKSTEP_MODEL:-${LOCKSTEP_CACHE:-$HOME/.cache/lockstep}/SmolLM2-135M-Instruct.Q4_1.gguf}
[ -f "$MODEL" ] || { echo "$NAME: model not found at $MODEL (run scripts/setup.sh)" >&2; exit 1; }

swift build -c release --product lockstep >&2
swift build -c release --product lockstep-verify >&2
BIN=.build/release/lockstep
VERIFY=.build/release/lockstep-verify
WORK=$(mktemp -d)
# A raw (non-chat) prompt that the model continues for well over 128 tokens without an end token.
PROMPT="The history of the city begins in the Roman era, when"
