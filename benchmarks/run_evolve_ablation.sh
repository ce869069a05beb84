#!/usr/bin/env bash
# Issue 17's bootstrap ablation: round 1 trained on the search trajectories plus
# gsm8k train's converted reference solutions, against the main run's round 1
# (search trajectories only), on the same dev slices.
#   benchmarks/run_evolve_ablation.sh [--max-minutes M]
# Same config and store as benchmarks/run_evolve.sh; round 0 (the pool search and
# the base 0.5B's dev runs) does not depend on the option, so the main run's
# round-0 ledger is copied in and nothing of it is searched again.
set -euo pipefail
cd "$(dirname "$0")/.."
STORE=runs/evolve/runs.db
OUT=runs/evolve-ref
mkdir -p runs/evolve "$OUT"
benchmarks/store_sync.sh import "$STORE" benchmarks/evolve
restore() {  # restore LEDGER_DIR ROUND_NAME: copy a ledger where this machine lacks it
    if [ -e "$1/$2.json" ] && [ ! -e "$OUT/$2/manifest.json" ]; then
        mkdir -p "$OUT/$2"
        cp "$1/$2.json" "$OUT/$2/manifest.json"
    fi
}
restore benchmarks/evolve/ledgers round-0
for ledger in benchmarks/evolve/ledgers-ref/round-*.json; do
    [ -e "$ledger" ] || continue
    restore benchmarks/evolve/ledgers-ref "$(basename "$ledger" .json)"
done
exec .venv/bin/thinktree evolve --config benchmarks/evolve.yaml --out "$OUT" \
    --reference --rounds 1 "$@"
