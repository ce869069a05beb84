"""Issue 17's figures: benchmarks/results/evolve.json from the evolve runs' summaries.

    .venv/bin/python benchmarks/evolve_results.py [--main runs/evolve] [--reference runs/evolve-ref]

Reads ``summary.json`` of the measured run (``thinktree bench
benchmarks/recipes/evolve.yaml``: rounds 0, 1 and 2) and, when present, of the
bootstrap ablation (``benchmarks/recipes/evolve_reference.yaml``: the same config
with ``--reference --rounds 1 --out runs/evolve-ref``, round 1 trained on search +
converted reference trajectories), and writes the issue's schema. ``parity`` is the
latest round's export check (PEFT against llama.cpp with the adapter, and the
base model without it, at teacher-forced positions); ``serving`` copies
``serve_adapter.json`` (base + adapter against the merged Q8_0 file). Nothing is
re-run; rerun ``thinktree evolve`` with the same config first to refresh a summary.
"""

from __future__ import annotations

import argparse
import json
from itertools import pairwise as pairwise_rounds
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
DEV_STAGES = ("dev_greedy", "dev_mcts")
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


def dev_runs(manifest: dict[str, Any]) -> dict[str, str | None]:
    """The run ids of a round's dev evaluations, from its ledger (None: not run)."""
    return {stage: manifest["stages"].get(stage, {}).get("run_id") for stage in DEV_STAGES}


def arm(directory: Path) -> dict[str, Any] | None:
    """Round 1's figures of one ablation arm, with its dev runs (None before its dev
    greedy ran)."""
    path = directory / "summary.json"
    row = (
        next((r for r in load_rows(directory) if r["round"] == 1), None) if path.is_file() else None
    )
    if row is None or row.get("dev_greedy") is None:
        return None
    manifest = json.loads((directory / "round-1" / "manifest.json").read_text())
    runs = {f"{stage}_run": run for stage, run in dev_runs(manifest).items()}
    return {key: row.get(key) for key in ARM_KEYS} | runs


def ablation(main_dir: Path, reference_dir: Path, store_path: Path) -> dict[str, Any]:
    """Search-only against search + reference round 1, pair-wise on each dev slice.

    The rule: the reference arm becomes the default only when it wins more dev
    problems than it loses over both slices together (greedy and mcts, each problem
    pair counted once per slice); otherwise search-only stays, as the cheaper recipe
    (no conversion, fewer SFT tokens). ``sign_test_p`` says whether the difference
    is beyond noise.
    """
    search_only, with_reference = arm(main_dir), arm(reference_dir)
    result: dict[str, Any] = {"search_only": search_only, "search_plus_reference": with_reference}
    if not (search_only and with_reference):
        return result
    from thinktree.eval.metrics import pairwise, sign_test
    from thinktree.store import RunStore

    with RunStore(store_path, create=False) as store:
        for stage in DEV_STAGES:
            ref_run, base_run = with_reference[f"{stage}_run"], search_only[f"{stage}_run"]
            if (
                ref_run
                and base_run
                and store.count_results(ref_run) == store.count_results(base_run)
            ):
                result[f"{stage}_reference_vs_search"] = pairwise(
                    store.results(ref_run), store.results(base_run)
                )
    pairs = [v for k, v in result.items() if k.endswith("_reference_vs_search")]
    if len(pairs) < len(DEV_STAGES):
        return result  # an arm's dev run is not whole yet: no verdict
    won, lost = sum(p["won"] for p in pairs), sum(p["lost"] for p in pairs)
    result["pooled"] = {"won": won, "lost": lost, "sign_test_p": sign_test(won, lost),
                        "slices": len(pairs)}  # fmt: skip
    result["better"] = "search_plus_reference" if won > lost else "search_only"
    result["rule"] = (
        "reference solutions are on by default only if the reference arm wins more dev "
        "problems than it loses (greedy + mcts slices pooled); else search-only, the cheaper"
    )
    return result


def vs_previous(main_dir: Path, store_path: Path) -> list[dict[str, Any]]:
    """Each round's dev runs against the previous round's, pair-wise (the issue's
    "round 2 is not worse than round 1 beyond noise")."""
    from thinktree.eval.metrics import pairwise
    from thinktree.store import RunStore

    ledgers = [json.loads(path.read_text()) for path in main_dir.glob("round-*/manifest.json")]
    runs = sorted(((ledger["round"], dev_runs(ledger)) for ledger in ledgers), key=lambda r: r[0])
    out = []
    with RunStore(store_path, create=False) as store:
        for (prev_round, prev), (round_index, cur) in pairwise_rounds(runs):
            entry: dict[str, Any] = {"round": round_index, "against": prev_round}
            for stage in DEV_STAGES:
                if prev[stage] and cur[stage]:
                    entry[stage] = pairwise(store.results(cur[stage]), store.results(prev[stage]))
            out.append(entry)
    return out


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
    store = ROOT / config.get("store", "runs/evolve/runs.db")
    result = {
        "policy": config.get("policy", "fast"),
        "bootstrap": config.get("bootstrap", "default"),
        "complete": all(r.get("dev_mcts") is not None for r in rows),
        "rounds": [{key: row.get(key) for key in ROUND_KEYS} for row in rows],
        "dev_vs_previous_round": vs_previous(args.main, store),
        "notes": {
            "pool": "row r's pool_size and pool_accuracy are the pool search made by policy_r "
            "(round 0: the bootstrap model), whose trajectories train round r+1",
            "dev": "dev_greedy on gsm8k test[:100], dev_mcts (mcts@4 with PPM_r) on test[:50]",
        },
        "parity": latest_parity(rows),
        "bootstrap_ablation": ablation(args.main, args.reference, store),
        "serving": serving(),
        "command": "thinktree bench benchmarks/recipes/evolve.yaml; thinktree bench "
        "benchmarks/recipes/evolve_reference.yaml; python benchmarks/evolve_results.py",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
