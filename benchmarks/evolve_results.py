"""Issue 17's figures: benchmarks/results/evolve.json from the evolve runs' summaries.

    .venv/bin/python benchmarks/evolve_results.py [--main runs/evolve] [--reference runs/evolve-ref]

Reads ``summary.json`` of the measured run (``benchmarks/run_evolve.sh``: rounds 0,
1 and 2) and, when present, of the bootstrap ablation (the same config with
``--reference --rounds 1 --out runs/evolve-ref``: round 1 trained on search +
converted reference trajectories), and writes the issue's schema. ``parity`` is
the latest round's export check (PEFT against llama.cpp with the adapter, and the
base model without it, at teacher-forced positions); ``serving`` copies
``serve_adapter.json`` (base + adapter against the merged Q8_0 file). Nothing is
re-run; rerun ``thinktree evolve`` with the same config first to refresh a summary.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "evolve.json"
ROUND_KEYS = (
    "round", "pool_size", "pool_accuracy", "trajectories", "pairs", "sft_tokens",
    "sft_minutes", "sft_tokens_per_second", "holdout_loss_before", "holdout_loss_after",
    "ppm_pairwise_new", "dev_greedy", "dev_greedy_n", "dev_greedy_in_format", "dev_mcts",
    "dev_mcts_n", "dev_greedy_vs_round0",
)  # fmt: skip
ARM_KEYS = (
    "trajectories", "sft_tokens", "sft_minutes", "holdout_loss_after", "dev_greedy",
    "dev_greedy_n", "dev_greedy_in_format", "dev_mcts", "dev_mcts_n", "dev_greedy_vs_round0",
)  # fmt: skip


def load_rows(directory: Path) -> list[dict[str, Any]]:
    path = directory / "summary.json"
    if not path.is_file():
        raise SystemExit(f"no {path}; run `thinktree evolve --out {directory}` first")
    return json.loads(path.read_text())


def latest_parity(rows: list[dict[str, Any]]) -> dict[str, Any]:
    for row in reversed(rows):
        parity = row.get("parity") or {}
        if parity.get("agree") is not None:
            return {"round": row["round"], **parity}
    return {"agree": None, "base_agree": None, "positions": None}


def arm(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Round 1's figures of one ablation arm (None before its dev evals ran)."""
    row = next((r for r in rows if r["round"] == 1), None)
    if row is None or row.get("dev_greedy") is None:
        return None
    return {key: row.get(key) for key in ARM_KEYS}


def ablation(main: list[dict[str, Any]], reference_dir: Path) -> dict[str, Any]:
    search_only = arm(main)
    with_reference = (
        arm(load_rows(reference_dir)) if (reference_dir / "summary.json").is_file() else None
    )
    result: dict[str, Any] = {"search_only": search_only, "search_plus_reference": with_reference}
    if search_only and with_reference:
        key = lambda a: (a["dev_greedy"], a["dev_mcts"] or 0.0)  # noqa: E731
        result["better"] = (
            "search_plus_reference" if key(with_reference) > key(search_only) else "search_only"
        )
    return result


def serving() -> dict[str, Any] | None:
    """Base + adapter against the merged Q8_0 file (serve_adapter_bench.py), when measured."""
    path = RESULTS.parent / "serve_adapter.json"
    if not path.is_file():
        return None
    bench = json.loads(path.read_text())
    keys = ("adapter_sha256", "servings", "merged_over_adapter", "merged_q8_0_agree",
            "base_agree", "positions", "file_mb", "command")  # fmt: skip
    return {key: bench.get(key) for key in keys} | {"default": "adapter"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--main", type=Path, default=ROOT / "runs" / "evolve")
    parser.add_argument("--reference", type=Path, default=ROOT / "runs" / "evolve-ref")
    parser.add_argument("--config", type=Path, default=ROOT / "benchmarks" / "evolve.yaml")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    import yaml

    config = yaml.safe_load(args.config.read_text())
    rows = load_rows(args.main)
    result = {
        "policy": config.get("policy", "fast"),
        "bootstrap": config.get("bootstrap", "default"),
        "complete": all(r.get("dev_mcts") is not None for r in rows),
        "rounds": [{key: row.get(key) for key in ROUND_KEYS} for row in rows],
        "parity": latest_parity(rows),
        "bootstrap_ablation": ablation(rows, args.reference),
        "serving": serving(),
        "command": "benchmarks/run_evolve.sh; thinktree evolve --config benchmarks/evolve.yaml "
        "--out runs/evolve-ref --reference --rounds 1; python benchmarks/evolve_results.py",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
