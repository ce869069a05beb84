"""What the benchmark reports share: the gsm8k test[:50] slice and one entry per run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from thinktree.eval.report import RunReport, build_reports
from thinktree.store import ResultRow, RunRecord, RunStore

WANTED = [f"gsm8k/test/{i}" for i in range(50)]


def complete_runs(
    store: RunStore, keep: Callable[[RunRecord], bool], partial: bool = False
) -> list[RunReport]:
    """Runs on gsm8k:test that ``keep`` selects and that hold all of WANTED, cut to it
    (with ``partial``, those holding any of it: a run still growing across sittings).

    A run's wall time is shared out by problem count, so the baseline's 200-problem
    greedy run reports the seconds of its first 50.
    """
    wanted = set(WANTED)
    chosen = []
    for run in store.list_runs():
        if run.dataset != "gsm8k:test" or not keep(run):
            continue
        rows = [r for r in store.results(run.id) if r.problem_id in wanted]
        if len(rows) == len(wanted) or (partial and rows):
            chosen.append((run, rows))
    return build_reports(chosen)


def scorer_of(run: RunRecord) -> str:
    return str(run.config.get("scorer", "none") or "none")


def run_entry(rep: RunReport) -> dict[str, Any]:
    search = rep.run.config["search"]
    return {
        "run_id": rep.run.id, "model": rep.run.model, "strategy": rep.run.strategy,
        "samples": 1 if rep.run.strategy == "greedy" else search["samples"],
        "k": search["k"] if rep.run.strategy == "mcts" else None,
        "scorer": scorer_of(rep.run),
        "accuracy": rep.summary["accuracy"], "ci95": rep.summary["ci95"],
        "tokens_per_problem": rep.summary["tokens_per_problem"],
        "seconds_per_problem": rep.summary["seconds_per_problem"],
        "n": rep.summary["n"],
    }  # fmt: skip


def tree_pass(rows: list[ResultRow]) -> float:
    """The share of problems whose searched tree holds any correct terminal answer."""
    return sum(any(r.samples.get("correct") or []) for r in rows) / len(rows)
