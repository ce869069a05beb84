#!/usr/bin/env bash
# Move a run store's runs to and from git-tracked exports, so long runs resume on
# another machine:
#   benchmarks/store_sync.sh export STORE DIR   every run of STORE -> DIR/<run>.jsonl.gz
#   benchmarks/store_sync.sh import STORE DIR   every DIR/*.jsonl.gz -> STORE (resumable)
# Export is safe while a search is writing (SQLite WAL): a result stored during it
# appears in the next one. Import adds only what the store lacks.
set -euo pipefail
cd "$(dirname "$0")/.."
action=${1:?usage: store_sync.sh export|import STORE DIR}
store=${2:?usage: store_sync.sh export|import STORE DIR}
dir=${3:?usage: store_sync.sh export|import STORE DIR}
case "$action" in
export)
    [ -e "$store" ] || { echo "nothing stored yet in $store"; exit 0; }
    mkdir -p "$dir"
    .venv/bin/thinktree runs list --store "$store" --json | .venv/bin/python -c '
import json, subprocess, sys
for line in sys.stdin:
    run = json.loads(line)["run_id"]
    subprocess.run([".venv/bin/thinktree", "runs", "export", run, "--store", sys.argv[1],
                    "--out", f"{sys.argv[2]}/{run}.jsonl.gz"], check=True)
' "$store" "$dir"
    ;;
import)
    for f in "$dir"/*.jsonl.gz; do
        [ -e "$f" ] || continue
        .venv/bin/thinktree runs import "$f" --store "$store"
    done
    ;;
*)
    echo "unknown action: $action (export or import)" >&2
    exit 2
    ;;
esac
