#!/usr/bin/env bash
# Issue 6 training rollouts: MCTS with outcome rewards (gold answers value the
# terminals) on gsm8k train with the default 1.5B model. Resumable; raise LIMIT
# to grow the pool across sessions (the run is found again and extended).
set -euo pipefail
cd "$(dirname "$0")/.."
STORE=${STORE:-benchmarks/runs.db}
LIMIT=${LIMIT:-100}
.venv/bin/thinktree eval --benchmark gsm8k --split train --limit "$LIMIT" --strategy mcts \
    --rollouts 4 --k 3 --scorer outcome --store "$STORE" --json "$@"
