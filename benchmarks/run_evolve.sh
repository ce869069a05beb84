#!/usr/bin/env bash
# Issue 17's evolve run, resumable across sittings and machines.
#   benchmarks/run_evolve.sh [--max-minutes M]
# Stored runs travel in git as exports (benchmarks/evolve/*.jsonl.gz, written by
# benchmarks/save_evolve.sh): on a machine whose store lacks them they are imported
# first, so the searches resume instead of starting over.
set -euo pipefail
cd "$(dirname "$0")/.."
STORE=runs/evolve/runs.db
mkdir -p runs/evolve
benchmarks/store_sync.sh import "$STORE" benchmarks/evolve
# A round's ledger (stages done, runs adopted) is restored where this machine lacks it.
for ledger in benchmarks/evolve/ledgers/round-*.json; do
    [ -e "$ledger" ] || continue
    round=$(basename "$ledger" .json)
    if [ ! -e "runs/evolve/$round/manifest.json" ]; then
        mkdir -p "runs/evolve/$round"
        cp "$ledger" "runs/evolve/$round/manifest.json"
    fi
done
# Weights do not travel in git, except the round the package ships as `evolved`.
.venv/bin/python benchmarks/restore_shipped_round.py runs/evolve
exec .venv/bin/thinktree evolve --config benchmarks/evolve.yaml --out runs/evolve "$@"
