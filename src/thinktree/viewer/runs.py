"""What the runs page and a run's problems page show, read from the run store.

A finished run (``complete`` or ``stopped``) is summarised by the metrics stored
with it when it ended; any other run (one still being searched, a served chat
session) is summarised from its results as they stand, so the pages follow a
run while it grows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from thinktree.eval.metrics import summarize
from thinktree.search.registry import run_label
from thinktree.store import ResultRow, RunRecord, RunStore

FINISHED = ("complete", "stopped")

Verdict = Literal["right", "wrong", "unanswered", "ungraded"]
FILTERS: tuple[str, ...] = ("all", "right", "wrong", "unanswered")
SORTS: dict[str, str] = {
    "position": "position",
    "tokens": "most tokens first",
    "time": "longest first",
}


@dataclass(frozen=True)
class RunSummary:
    """One row of the runs page."""

    run: RunRecord
    n: int
    graded: int
    correct: int
    accuracy: float | None
    ci95: tuple[float, float] | None
    tokens_per_problem: float
    seconds: float
    seconds_per_problem: float

    @property
    def label(self) -> str:
        """The strategy with its budget and scorer: ``mcts@4+ppm``, ``greedy``
        (:func:`thinktree.search.registry.run_label`)."""
        config = self.run.config
        return run_label(self.run.strategy, config.get("search", {}), config.get("scorer"))

    @property
    def started(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.run.created))

    @property
    def live(self) -> bool:
        return self.run.status not in FINISHED


def summarize_run(store: RunStore, run: RunRecord) -> RunSummary:
    metrics: dict[str, Any] = run.metrics
    if run.status not in FINISHED or "accuracy" not in metrics:
        metrics = summarize(store.results(run.id), wall_seconds=run.metrics.get("wall_seconds"))
    ci = metrics.get("ci95")
    return RunSummary(
        run=run,
        n=int(metrics.get("n", 0)),
        graded=int(metrics.get("graded", 0)),
        correct=int(metrics.get("correct", 0)),
        accuracy=metrics.get("accuracy"),
        ci95=(float(ci[0]), float(ci[1])) if ci else None,
        tokens_per_problem=float(metrics.get("tokens_per_problem", 0.0)),
        seconds=float(metrics.get("seconds", 0.0)),
        seconds_per_problem=float(metrics.get("seconds_per_problem", 0.0)),
    )


def summarize_runs(store: RunStore) -> list[RunSummary]:
    """Every run, newest first."""
    return [summarize_run(store, run) for run in reversed(store.list_runs())]


def verdict(row: ResultRow) -> Verdict:
    if row.answer is None:
        return "unanswered"
    if row.correct is None:
        return "ungraded"
    return "right" if row.correct else "wrong"


def select_problems(rows: list[ResultRow], show: str, sort: str) -> list[ResultRow]:
    """``rows`` kept by ``show`` (a FILTERS name) and ordered by ``sort`` (a SORTS name).

    Raises ValueError naming the choices for an unknown filter or sort."""
    if show not in FILTERS:
        raise ValueError(f"unknown filter {show!r}; use one of {', '.join(FILTERS)}")
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; use one of {', '.join(SORTS)}")
    kept = [r for r in rows if show == "all" or verdict(r) == show]
    if sort == "tokens":
        return sorted(kept, key=lambda r: (-r.generated_tokens, r.position))
    if sort == "time":
        return sorted(kept, key=lambda r: (-r.seconds, r.position))
    return sorted(kept, key=lambda r: (r.position, r.problem_id))


def verdict_counts(rows: list[ResultRow]) -> dict[str, int]:
    """Problems per filter, ``all`` included."""
    counts = {name: 0 for name in FILTERS}
    counts["all"] = len(rows)
    for row in rows:
        v = verdict(row)
        if v in counts:
            counts[v] += 1
    return counts
