"""An evolve directory's results, read the way code outside ``train`` may read them.

:func:`read_results` is the one door: each ``round-N/manifest.json`` (the round's
ledger: finished stages with their figures, and the runs of stages under way in
``data``) and, when a sitting has ended, ``summary.json`` (one row per round) as
the cells of the table ``thinktree evolve`` prints. Meant to be read while an
evolution runs: the writer replaces files atomically, so a damaged file means a
real fault, and it is reported on its round (or on the summary), not raised.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinktree.train.evolve.report import COLUMNS, table_rows
from thinktree.train.evolve.stage_names import FAMILIES
from thinktree.train.rounds import MANIFEST_FILE

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
"""The ledger stages in the order a round runs them (tests/train checks it against
the loop's own stages); the per-pool and per-slice ones follow their family
(:data:`~thinktree.train.evolve.stage_names.FAMILIES`)."""
_ROUND = re.compile(r"round-(\d+)")


def stage_rank(name: str) -> tuple[int, int, str]:
    """Where stage ``name`` comes in a round: a fixed stage by :data:`STAGE_ORDER`, a
    per-pool or per-slice one after its family's fixed stage (by name within the
    family), an unknown one last."""
    order = {stage: i for i, stage in enumerate(STAGE_ORDER)}
    if name in order:
        return order[name], 0, name
    for family, (prefix, after) in enumerate(FAMILIES, start=1):
        if name.startswith(prefix):
            return order[after], family, name
    return len(order), 0, name


@dataclass(frozen=True)
class RoundResult:
    index: int
    parent: int | None = None
    policy_base: str | None = None
    stages: list[tuple[str, Any]] = field(default_factory=list)
    """(stage, figures as recorded) of the finished stages, in the loop's order."""
    under_way: list[tuple[str, str]] = field(default_factory=list)
    """(stage, run id) of stages that have a run but are not finished."""
    error: str | None = None


@dataclass(frozen=True)
class EvolveResults:
    rounds: list[RoundResult]
    """Every ``round-N`` directory, by number."""
    columns: list[str]
    """The summary table's column titles."""
    summary: list[list[str]] | None
    """The summary table's cells, one row per round; None before any sitting ended."""
    summary_error: str | None = None


def read_results(directory: Path) -> EvolveResults:
    """The rounds and summary found in ``directory``; ValueError if it is not a directory."""
    if not directory.is_dir():
        raise ValueError(f"the evolve directory {directory} does not exist")
    found = [
        (int(m.group(1)), path)
        for path in directory.iterdir()
        if path.is_dir() and (m := _ROUND.fullmatch(path.name))
    ]
    rounds = [_read_round(index, path) for index, path in sorted(found)]
    summary, error = _read_summary(directory / "summary.json")
    return EvolveResults(rounds, [title for _, title in COLUMNS], summary, error)


def _read_round(index: int, path: Path) -> RoundResult:
    manifest = path / MANIFEST_FILE
    if not manifest.is_file():
        return RoundResult(index, error="no manifest yet")
    try:
        data = json.loads(manifest.read_text())
        stages = data.get("stages", {})
        runs = data.get("data", {})
        if not isinstance(stages, dict) or not isinstance(runs, dict):
            raise ValueError("stages or data is not an object")
    except (OSError, ValueError) as exc:
        return RoundResult(index, error=f"{manifest.name} is unreadable ({exc})")
    names = sorted(stages, key=stage_rank)
    under_way = [
        (key.removesuffix("_run"), str(value))
        for key, value in sorted(runs.items())
        if key.endswith("_run") and key.removesuffix("_run") not in stages
    ]
    return RoundResult(
        index=index,
        parent=data.get("parent"),
        policy_base=data.get("policy_base"),
        stages=[(name, stages[name]) for name in names],
        under_way=under_way,
    )


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
