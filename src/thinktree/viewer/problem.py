"""A stored problem's solutions as the problem page shows them.

The chosen trajectory is the one the search answered with (the first holding the
chosen answer, else the first: :attr:`thinktree.search.SolveResult.best`). Each
trajectory's verdict is its answer's, looked up in the result's graded samples;
a problem without a gold answer (a chat) has no verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from thinktree.store import ResultRow


@dataclass(frozen=True)
class SampleView:
    index: int
    answer: str | None
    correct: bool | None
    value: float | None
    steps: list[dict[str, Any]]
    chosen: bool

    @property
    def tokens(self) -> int:
        return sum(int(s.get("tokens", 0)) for s in self.steps)


def best_index(row: ResultRow) -> int | None:
    """Index of the trajectory the search answered with (None: there is none)."""
    for i, trajectory in enumerate(row.trajectories):
        if trajectory.get("answer") == row.answer:
            return i
    return 0 if row.trajectories else None


def sample_correct(row: ResultRow, answer: str | None) -> bool | None:
    if row.gold is None:
        return None
    if answer is None:
        return False
    answers = row.samples.get("answers", [])
    graded = row.samples.get("correct", [])
    for i, a in enumerate(answers):
        if a == answer and i < len(graded):
            return bool(graded[i])
    return None


def sample_views(row: ResultRow) -> list[SampleView]:
    best = best_index(row)
    return [
        SampleView(
            index=i,
            answer=t.get("answer"),
            correct=sample_correct(row, t.get("answer")),
            value=t.get("value"),
            steps=list(t.get("steps", [])),
            chosen=i == best,
        )
        for i, t in enumerate(row.trajectories)
    ]
