"""Scorers: values of partial or complete solutions, in [-1, 1].

A scorer sees the question and the steps so far and returns one value per item;
calls are batched across problems. ``OutcomeScorer`` is special: it knows gold
answers and only values final answers (used for training rollouts). The PPM
lives in :mod:`thinktree.reward.ppm`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from thinktree.steps import Step


@dataclass(frozen=True)
class ScoreItem:
    question: str
    steps: Sequence[Step]
    problem_id: str = ""


class Scorer(ABC):
    name: str = "scorer"
    kind: str = "learned"
    """"learned" (scores any partial solution), "outcome" (gold answers) or "none"."""
    terminal_outcome: bool = False
    """Final answers are valued by the gold answer (+1 / −1), not by this scorer:
    training rollouts, where the gold answer is known."""

    @abstractmethod
    def score(self, items: Sequence[ScoreItem]) -> list[float]:
        """One value in [-1, 1] per item (the value of its last step)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (models, worker processes)."""


class NullScorer(Scorer):
    """No learned or known signal: strategies fall back to answer agreement."""

    name = "none"
    kind = "none"

    def score(self, items: Sequence[ScoreItem]) -> list[float]:
        return [0.0 for _ in items]
