#!/usr/bin/env bash
# The long queue of this session, in order: wait for the baseline, the batching
# timing (quiet machine), the PPM training rollouts, then the issue-5 search runs.
set -uo pipefail
cd "$(dirname "$0")/.."
while pgrep -f run_baseline.sh > /dev/null; do sleep 30; done
.venv/bin/python benchmarks/search_batch_bench.py > benchmarks/logs/search_batch2.log 2>&1
benchmarks/run_rollouts.sh > benchmarks/logs/rollouts.log 2>&1
benchmarks/run_search.sh > benchmarks/logs/search.log 2>&1
