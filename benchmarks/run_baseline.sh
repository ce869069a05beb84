#!/usr/bin/env bash
# Issue 4 baseline: greedy with the default 1.5B model on gsm8k test[:200] and
# math500[:100]. Resumable: rerun to continue after a kill.
set -euo pipefail
cd "$(dirname "$0")/.."
STORE=${STORE:-benchmarks/runs.db}
.venv/bin/thinktree eval --benchmark gsm8k --split test --limit 200 --strategy greedy --store "$STORE" --json
.venv/bin/thinktree eval --benchmark math500 --limit 100 --strategy greedy --store "$STORE" --json
