"""Issue 17's figures (``analyses: [evolve]``): evolve.json from the evolve runs' rounds.

Reads the measured run's ``summary.json`` (one row a round, written by ``thinktree
evolve`` at the end of every sitting) and its rounds' ledgers
(``round-N/manifest.json``) in ``options.main`` (default runs/evolve, the evolve
recipe's ``out``), and, when present, those of the bootstrap ablation in
``options.reference`` (default runs/evolve-ref: benchmarks/recipes/evolve_reference.yaml,
round 1 trained on search + converted reference trajectories). ``parity`` is the
latest round's export check (PEFT against llama.cpp with the adapter, and the base
model without it, at teacher-forced positions); ``serving`` copies
``options.serving`` (default benchmarks/results/serve_adapter.json: base + adapter
against the merged Q8_0 file). Dev runs are compared pair-wise in the recipe's store.
Nothing is re-run. The files are plain JSON, read here directly: ``eval`` does not
import ``train``.
"""

from __future__ import annotations

import json
from itertools import pairwise as consecutive
from pathlib import Path
from typing import Any

from thinktree.eval.bench.context import ReportContext
from thinktree.eval.metrics import pairwise, sign_test
from thinktree.store import RunStore

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
SERVING_KEYS = (
    "adapter_sha256", "servings", "merged_over_adapter", "merged_q8_0_agree", "base_agree",
    "positions", "file_mb", "command",
)  # fmt: skip
NOTES = {
    "pool": "row r's pool_size and pool_accuracy are the pool search made by policy_r "
    "(round 0: the bootstrap model), whose trajectories train round r+1",
    "dev": "dev_greedy on gsm8k test[:100], dev_mcts (mcts@4 with PPM_r) on test[:50]",
}
RULE = (
    "reference solutions are on by default only if the reference arm wins more dev "
    "problems than it loses (greedy + mcts slices pooled); else search-only, the cheaper"
)
COMMAND = (
    "thinktree bench benchmarks/recipes/evolve.yaml; thinktree bench "
    "benchmarks/recipes/evolve_reference.yaml; thinktree bench "
    "benchmarks/recipes/evolve.yaml --report-only"
)


def read_json(path: Path) -> Any:
    """A JSON file's data; ValueError, in one line, if it is not JSON."""
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON ({exc.msg} at line {exc.lineno})") from None


def summary_rows(directory: Path) -> list[dict[str, Any]] | None:
    """The rows of ``directory/summary.json``, one a round (None: no summary yet)."""
    path = directory / "summary.json"
    if not path.is_file():
        return None
    rows = read_json(path)
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ValueError(f"{path} is not a list of rounds; rerun thinktree evolve to rewrite it")
    return rows


def ledger(directory: Path, round_index: int) -> dict[str, Any] | None:
    """Round ``round_index``'s ledger in ``directory`` (None: not started here)."""
    path = directory / f"round-{round_index}" / "manifest.json"
    return read_json(path) if path.is_file() else None


def dev_runs(manifest: dict[str, Any]) -> dict[str, str | None]:
    """The run ids of a round's dev evaluations, from its ledger (None: not run)."""
    return {stage: manifest["stages"].get(stage, {}).get("run_id") for stage in DEV_STAGES}


def latest_parity(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The latest round's export check (every figure None before any round has one)."""
    for row in reversed(rows):
        parity = row.get("parity") or {}
        if parity.get("agree") is not None:
            return {"round": row["round"], **parity}
    return {"agree": None, "base_agree": None, "positions": None}


def arm(directory: Path) -> dict[str, Any] | None:
    """Round 1's figures of one ablation arm with its dev runs (None before its dev
    greedy ran)."""
    row = next((r for r in summary_rows(directory) or [] if r["round"] == 1), None)
    manifest = ledger(directory, 1)
    if row is None or row.get("dev_greedy") is None or manifest is None:
        return None
    runs = {f"{stage}_run": run for stage, run in dev_runs(manifest).items()}
    return {key: row.get(key) for key in ARM_KEYS} | runs


def ablation(store: RunStore, main: Path, reference: Path) -> dict[str, Any]:
    """Search-only against search + reference round 1, pair-wise on each dev slice.

    The rule: the reference arm becomes the default only when it wins more dev
    problems than it loses over both slices together (greedy and mcts, each problem
    pair counted once per slice); otherwise search-only stays, as the cheaper recipe
    (no conversion, fewer SFT tokens). ``sign_test_p`` says whether the difference
    is beyond noise.
    """
    search_only, with_reference = arm(main), arm(reference)
    result: dict[str, Any] = {"search_only": search_only, "search_plus_reference": with_reference}
    if not (search_only and with_reference):
        return result
    for stage in DEV_STAGES:
        ref_run, base_run = with_reference[f"{stage}_run"], search_only[f"{stage}_run"]
        # A dev run still growing is compared once it is as whole as the other.
        if ref_run and base_run and store.count_results(ref_run) == store.count_results(base_run):
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
    result["rule"] = RULE
    return result


def vs_previous(store: RunStore, main: Path) -> list[dict[str, Any]]:
    """Each round's dev runs against the previous round's, pair-wise (the issue's
    "round 2 is not worse than round 1 beyond noise")."""
    ledgers = [read_json(path) for path in main.glob("round-*/manifest.json")]
    runs = sorted(((m["round"], dev_runs(m)) for m in ledgers), key=lambda pair: pair[0])
    out = []
    for (prev_round, prev), (round_index, cur) in consecutive(runs):
        entry: dict[str, Any] = {"round": round_index, "against": prev_round}
        for stage in DEV_STAGES:
            if prev[stage] and cur[stage]:
                entry[stage] = pairwise(store.results(cur[stage]), store.results(prev[stage]))
        out.append(entry)
    return out


def serving(path: Path) -> dict[str, Any] | None:
    """Base + adapter against the merged Q8_0 file, when measured (None: not yet)."""
    if not path.is_file():
        return None
    bench = read_json(path)
    return {key: bench.get(key) for key in SERVING_KEYS} | {"default": "adapter"}


def evolve(ctx: ReportContext) -> dict[str, Any]:
    """evolve.json's every key; ValueError if the measured run has no summary yet."""
    main = ctx.path_option("main", "runs/evolve")
    rows = summary_rows(main)
    if rows is None:
        raise ValueError(
            f"no {main / 'summary.json'}: run the evolve recipe first "
            "(thinktree bench benchmarks/recipes/evolve.yaml writes it at the end of a sitting)"
        )
    config = (ledger(main, 0) or {}).get("config", {})
    return {
        "policy": config.get("policy"),
        "bootstrap": config.get("bootstrap"),
        "complete": all(row.get("dev_mcts") is not None for row in rows),
        "rounds": [{key: row.get(key) for key in ROUND_KEYS} for row in rows],
        "dev_vs_previous_round": vs_previous(ctx.store, main),
        "notes": NOTES,
        "parity": latest_parity(rows),
        "bootstrap_ablation": ablation(
            ctx.store, main, ctx.path_option("reference", "runs/evolve-ref")
        ),
        "serving": serving(ctx.path_option("serving", "benchmarks/results/serve_adapter.json")),
        "command": COMMAND,
    }
