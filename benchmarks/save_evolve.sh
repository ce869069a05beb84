#!/usr/bin/env bash
# Export every run of the evolve store into benchmarks/evolve/ (commit them), so
# that benchmarks/run_evolve.sh on a fresh machine resumes instead of redoing hours
# of search. Safe while a search is writing (SQLite WAL): a result stored during
# the export appears in the next one.
set -euo pipefail
cd "$(dirname "$0")/.."
STORE=runs/evolve/runs.db
benchmarks/store_sync.sh export "$STORE" benchmarks/evolve
# The rounds' ledgers name the runs each stage adopted (a dev run started under
# an older default config keeps its name); they travel with the exports.
for manifest in runs/evolve/round-*/manifest.json; do
    [ -e "$manifest" ] || continue
    round=$(basename "$(dirname "$manifest")")
    mkdir -p benchmarks/evolve/ledgers
    cp "$manifest" "benchmarks/evolve/ledgers/$round.json"
done
# The bootstrap ablation's ledgers (benchmarks/run_evolve_ablation.sh) likewise.
for manifest in runs/evolve-ref/round-*/manifest.json; do
    [ -e "$manifest" ] || continue
    round=$(basename "$(dirname "$manifest")")
    mkdir -p benchmarks/evolve/ledgers-ref
    cp "$manifest" "benchmarks/evolve/ledgers-ref/$round.json"
done
