"""An evolve directory's rounds as the evolve page shows them.

Read on every request from what ``thinktree evolve`` writes, so the page follows
a live evolution: each ``round-N/manifest.json`` (the round's ledger: finished
stages with their figures, and the runs of stages under way in ``data``) and,
when a sitting has ended, ``summary.json`` (one row per round, the table
``thinktree evolve`` prints). A damaged manifest is reported on its round, not
raised: the writer replaces files atomically, so it means a real fault.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinktree.train.evolve.ledger import MANIFEST_FILE
from thinktree.train.evolve.report import COLUMNS, table_rows

STAGE_ORDER = (
    "sft_data",
    "sft",
    "export",
    "parity",
    "ppm",
    "dev_greedy",
    "dev_mcts",
    "pool_search",
)
_ROUND = re.compile(r"round-(\d+)")


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
    if not directory.is_dir():
        raise ValueError(f"the evolve directory {directory} does not exist")
    found = [
        (int(m.group(1)), path)
        for path in directory.iterdir()
        if path.is_dir() and (m := _ROUND.fullmatch(path.name))
    ]
    rounds = [_read_round(index, path) for index, path in sorted(found)]
    summary, error = _read_summary(directory / "summary.json")
    return EvolveView(directory, rounds, [title for _, title in COLUMNS], summary, error)


def _read_round(index: int, path: Path) -> RoundView:
    manifest = path / MANIFEST_FILE
    if not manifest.is_file():
        return RoundView(index, error="no manifest yet")
    try:
        data = json.loads(manifest.read_text())
        stages = data.get("stages", {})
        runs = data.get("data", {})
        if not isinstance(stages, dict) or not isinstance(runs, dict):
            raise ValueError("stages or data is not an object")
    except (OSError, ValueError) as exc:
        return RoundView(index, error=f"{manifest.name} is unreadable ({exc})")
    order = {name: i for i, name in enumerate(STAGE_ORDER)}
    names = sorted(stages, key=lambda s: (order.get(s, len(order)), s))
    under_way = [
        (key.removesuffix("_run"), str(value))
        for key, value in sorted(runs.items())
        if key.endswith("_run") and key.removesuffix("_run") not in stages
    ]
    return RoundView(
        index=index,
        parent=data.get("parent"),
        policy_base=data.get("policy_base"),
        stages=[_stage(name, stages[name]) for name in names],
        under_way=under_way,
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


def _read_summary(path: Path) -> tuple[list[list[str]] | None, str | None]:
    if not path.is_file():
        return None, None
    try:
        rows = json.loads(path.read_text())
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ValueError("not a list of rounds")
        return table_rows(rows), None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        return None, f"summary.json is unreadable ({exc})"
