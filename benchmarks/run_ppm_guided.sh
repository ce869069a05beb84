#!/usr/bin/env bash
# Issue 6 PPM-guided runs on gsm8k test[:50], each next to its unguided twin:
# best_of_n@4 = the sc@4 run's samples rescored by the PPM (no new generation),
# and mcts (4 rollouts, k = 3) with the PPM valuing new nodes. Fast 0.5B policy
# first, then the default 1.5B. Resumable: rerun after a kill; finished runs are
# found in the store and skipped; extra arguments (e.g. --max-minutes 60) go to
# each eval. Then: python benchmarks/ppm_runs_report.py
set -euo pipefail
cd "$(dirname "$0")/.."
STORE=${STORE:-benchmarks/runs.db}
PPM=${PPM:-benchmarks/ppm/default}
EVAL=(.venv/bin/thinktree eval --benchmark gsm8k --split test --limit 50 --store "$STORE" --json)
run_id() { tail -1 | .venv/bin/python -c 'import json, sys; print(json.load(sys.stdin)["run_id"])'; }
for MODEL in fast default; do
    SC4=$("${EVAL[@]}" --model "$MODEL" --strategy sc --samples 4 "$@" | run_id)
    .venv/bin/thinktree rescore "$SC4" --scorer "ppm:$PPM" --store "$STORE"
    "${EVAL[@]}" --model "$MODEL" --strategy mcts --rollouts 4 --k 3 --scorer "ppm:$PPM" "$@"
done
