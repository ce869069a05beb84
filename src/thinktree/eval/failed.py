"""How the store records a problem that could not be searched.

A problem whose search never finished, because every worker that took it died
(``--ray``: bounded retries), is stored once, like any other result, so that a
resumed run does not take it again: ``stop_reason`` is :data:`FAILED`, there is
no answer, ``correct`` is None (not graded: the model was never judged on it,
so accuracy and pair-wise comparisons leave it out) and
``extra["failure"]`` holds ``{"reason": one line, "attempts": n}``. Run metrics
count such problems as ``failed``.
"""

from __future__ import annotations

from typing import Any

from thinktree.problems import Problem
from thinktree.store import ResultRow

FAILED = "failed"
"""The ``stop_reason`` of a problem stored as failed."""


def failed_row(problem: Problem, position: int, reason: str, attempts: int) -> ResultRow:
    """The stored row of ``problem`` after ``attempts`` tries that all failed."""
    return ResultRow(
        problem_id=problem.id,
        position=position,
        question=problem.question,
        gold=problem.answer,
        answer=None,
        correct=None,
        generated_tokens=0,
        prompt_tokens=0,
        cached_tokens=0,
        seconds=0.0,
        stop_reason=FAILED,
        samples={"answers": [], "classes": [], "class_correct": {}, "correct": []},
        votes={},
        trajectories=[],
        extra={"failure": {"reason": " ".join(reason.split()), "attempts": attempts}},
    )


def failure(row: ResultRow) -> dict[str, Any] | None:
    """The failure record of a row stored as failed, else None."""
    if row.stop_reason != FAILED:
        return None
    return dict(row.extra.get("failure") or {"reason": "unknown", "attempts": 0})
