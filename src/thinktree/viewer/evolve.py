"""An evolve directory's rounds as the evolve page shows them.

Read on every request through :func:`thinktree.train.evolve.results.read_results`
(the rounds' ledgers and, when a sitting has ended, the summary table), so the
page follows a live evolution; this module only formats what it returns. A
damaged manifest is reported on its round, not raised.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinktree.train.evolve.results import RoundResult, read_results


@dataclass(frozen=True)
class StageView:
    name: str
    finished: str | None
    figures: dict[str, str]
    run_id: str | None


@dataclass(frozen=True)
class RoundView:
    index: int
    parent: int | None = None
    policy_base: str | None = None
    stages: list[StageView] = field(default_factory=list)
    under_way: list[tuple[str, str]] = field(default_factory=list)
    """(stage, run id) of stages that have a run but are not finished."""
    error: str | None = None


@dataclass(frozen=True)
class EvolveView:
    directory: Path
    rounds: list[RoundView]
    columns: list[str]
    summary: list[list[str]] | None
    summary_error: str | None = None


def read_evolve(directory: Path) -> EvolveView:
    """The rounds found in ``directory``; ValueError if it is not a directory."""
    results = read_results(directory)
    rounds = [_round(r) for r in results.rounds]
    return EvolveView(directory, rounds, results.columns, results.summary, results.summary_error)


def _round(result: RoundResult) -> RoundView:
    return RoundView(
        index=result.index,
        parent=result.parent,
        policy_base=result.policy_base,
        stages=[_stage(name, figures) for name, figures in result.stages],
        under_way=result.under_way,
        error=result.error,
    )


def _stage(name: str, figures: Any) -> StageView:
    if not isinstance(figures, dict):
        return StageView(name, None, {"value": str(figures)}, None)
    finished = figures.get("finished")
    when = (
        time.strftime("%Y-%m-%d %H:%M", time.localtime(finished))
        if isinstance(finished, int | float)
        else None
    )
    shown = {k: _figure(v) for k, v in figures.items() if k not in ("finished", "run_id")}
    run_id = figures.get("run_id")
    return StageView(name, when, shown, run_id if isinstance(run_id, str) else None)


def _figure(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)
