"""Issue 4 baseline figures from the stored runs of benchmarks/run_baseline.sh.

    .venv/bin/python benchmarks/baseline_report.py [--store benchmarks/runs.db]

Writes benchmarks/results/baseline.json: greedy with the default 1.5B model on
gsm8k test[:200] and math500[:100] — accuracy with its 95 % Wilson interval,
generated tokens and wall seconds per problem.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from thinktree.eval.metrics import summarize
from thinktree.store import RunStore

ROOT = Path(__file__).resolve().parents[1]
SLICES = {"gsm8k_test_200": ("gsm8k:test", 200), "math500_100": ("math500:test", 100)}


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
            wall = run.metrics["wall_seconds"] * len(rows) / run.metrics["n"]
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
