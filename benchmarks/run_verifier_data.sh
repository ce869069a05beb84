#!/usr/bin/env bash
# Training data for the LM verifier (issue 51), grown in the background across
# sittings and machines:
#   benchmarks/run_verifier_data.sh MINUTES
# Problems: gsm8k train[1000:7000], which no evolve pool (train[:1000] is kept for
# them), dev or tuning slice (train[7000:]) and no test slice touches. Both
# policies a user runs draw solutions, so the verifier learns to judge either:
#   - sc@8 of the evolved 0.5B and of the default 1.5B (right and wrong solutions
#     of one problem make outcome pairs; the same sampler as test-time sc);
#   - mcts@4 with gold-answer values (k = 3, full expansion) of each model, at half
#     the pace, for rStar's step pairs.
# The runs grow 50 problems a pass, in that order, so a stop at any point leaves
# both models' data. Every run is exported to benchmarks/verifier/ after each
# call; on a machine without the store the exports are imported first, so the
# runs resume instead of starting over.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:?usage: run_verifier_data.sh MINUTES}
STORE=runs/verifier/runs.db
EXPORTS=benchmarks/verifier
OFFSET=1000
MAX_PROBLEMS=6000
mkdir -p runs/verifier
benchmarks/store_sync.sh import "$STORE" "$EXPORTS"
deadline=$(( $(date +%s) + minutes * 60 ))

left() { echo $(( (deadline - $(date +%s)) / 60 )); }

grow() {  # grow LIMIT MODEL STRATEGY-ARGS...
    local limit=$1 model=$2; shift 2
    local m; m=$(left)
    if [ "$m" -lt 2 ]; then echo "deadline reached"; exit 0; fi
    echo "$(date -Is) $model $* limit $limit ($m min left)"
    .venv/bin/thinktree eval --benchmark gsm8k --split train --offset "$OFFSET" \
        --limit "$limit" --model "$model" --store "$STORE" --max-minutes "$m" "$@" || true
    benchmarks/store_sync.sh export "$STORE" "$EXPORTS" >/dev/null
}

for (( limit = 50; limit <= MAX_PROBLEMS; limit += 50 )); do
    grow "$limit" evolved --strategy sc --samples 8
    grow "$limit" default --strategy sc --samples 8
    if (( limit % 100 == 0 )); then
        grow $(( limit / 2 )) default --strategy mcts --rollouts 4 --k 3 --scorer outcome
    else
        grow $(( limit / 2 + 25 )) evolved --strategy mcts --rollouts 4 --k 3 --scorer outcome
    fi
done
