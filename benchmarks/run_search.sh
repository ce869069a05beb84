#!/usr/bin/env bash
# Issue 5 accuracy runs on gsm8k test[:50]. Resumable: rerun to continue after a
# kill; each `eval` finds its run in the store and solves only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
STORE=${STORE:-benchmarks/runs.db}
EVAL=(.venv/bin/thinktree eval --benchmark gsm8k --split test --limit 50 --store "$STORE" --json)
"${EVAL[@]}" --model fast --strategy greedy
"${EVAL[@]}" --model fast --strategy sc --samples 4
"${EVAL[@]}" --model fast --strategy mcts --rollouts 4 --k 3
"${EVAL[@]}" --model fast --strategy sc --samples 8
"${EVAL[@]}" --model fast --strategy mcts --rollouts 8 --k 3
# The default 1.5B model; its greedy run on test[:50] is the baseline run's first 50.
"${EVAL[@]}" --strategy sc --samples 4
"${EVAL[@]}" --strategy mcts --rollouts 4 --k 3
