"""Issue 4 baseline figures from the stored runs of benchmarks/run_baseline.sh.

    .venv/bin/python benchmarks/baseline_report.py [--store benchmarks/runs.db]

Writes benchmarks/results/baseline.json: greedy with the default 1.5B model on
gsm8k test[:200] and math500[:100] — accuracy with its 95 % Wilson interval,
generated tokens and wall seconds per problem.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from contextlib import closing
from pathlib import Path

from thinktree.eval.metrics import summarize
from thinktree.store import RunStore

ROOT = Path(__file__).resolve().parents[1]
SLICES = {"gsm8k_test_200": ("gsm8k:test", 200), "math500_100": ("math500:test", 100)}


def wall_from_timestamps(store_path: str, run_id: str, gap: float = 300.0) -> float:
    """Wall time of a run stored before runs recorded it (before commit bb682b4).

    Results are stored as they finish; a pause of more than ``gap`` seconds
    between two of them is a kill and a resume, and each sitting starts when its
    first result was started (its store time minus its latency). On the gsm8k
    baseline this gives 5301 s, where the progress bar showed 1:28:20.
    """
    with closing(sqlite3.connect(store_path)) as db:
        rows = db.execute(
            "SELECT created, seconds FROM results WHERE run_id = ? ORDER BY created", (run_id,)
        ).fetchall()
    total, start, prev = 0.0, rows[0][0] - rows[0][1], rows[0][0]
    for created, seconds in rows[1:]:
        if created - prev > gap:
            total += prev - start
            start = created - seconds
        prev = created
    return total + prev - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", default=str(ROOT / "benchmarks" / "runs.db"))
    args = parser.parse_args()
    out: dict[str, object] = {"model": "qwen2.5-coder-1.5b-instruct", "strategy": "greedy",
                              "command": "benchmarks/run_baseline.sh"}  # fmt: skip
    with RunStore(args.store, create=False) as store:
        for key, (dataset, size) in SLICES.items():
            runs = [r for r in store.list_runs() if r.dataset == dataset and r.strategy == "greedy"
                    and r.model == "qwen2.5-coder-1.5b-instruct" and r.kind == "eval"]  # fmt: skip
            run = runs[0]
            rows = [r for r in store.results(run.id) if r.position < size]
            if len(rows) < size:
                raise SystemExit(f"{run.id} has {len(rows)} of {size} problems; run it to the end")
            total = run.metrics.get("wall_seconds") or wall_from_timestamps(args.store, run.id)
            wall = total * len(rows) / store.count_results(run.id)
            s = summarize(rows, wall_seconds=wall)
            out[key] = {"run_id": run.id, "n": s["n"], "accuracy": s["accuracy"],
                        "ci95": s["ci95"], "answered": s["answered"],
                        "tokens_per_problem": s["tokens_per_problem"],
                        "seconds_per_problem": s["seconds_per_problem"],
                        "cached_share": s["cached_share"]}  # fmt: skip
    path = ROOT / "benchmarks" / "results" / "baseline.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
