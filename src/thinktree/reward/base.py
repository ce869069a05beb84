"""Scorers: what values a search's steps and answers. A scorer's type says what it
needs and what it gives; strategies ask the type, never a name.

- :class:`StepScorer`: values any partial or complete solution, one value in
  [-1, 1] per (question, steps so far), from what it owns (the PPM: features and
  the model computing them). Strategies that rank solutions by a value
  (best-of-N, beam) need one; MCTS initialises new nodes with its values and
  values answers by them.
- :class:`NeedsGold`: final answers are valued by the gold answer (+1 correct,
  −1 wrong) rather than by the scorer, so every problem must carry one
  (training rollouts). Combined with :class:`StepScorer` (``ppm+outcome``), the
  step values steer the search while the gold answer values its endings.
- :class:`NullScorer`: no signal at all; MCTS values answers by their agreement.

Calls of :meth:`StepScorer.score` are batched across problems. The PPM lives in
:mod:`thinktree.reward.ppm` (features and a head) and :mod:`thinktree.reward.lm_ppm`
(a LoRA adapter served by llama.cpp), loaded alike by ``load_ppm``; scorers are
named on the command line through :mod:`thinktree.reward.registry`.
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


class Scorer(ABC):  # noqa: B024 - a base of kinds, none of them required
    """Anything a search is given to value its steps and answers (see the module docstring)."""

    name: str = "scorer"

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (models, worker processes)."""


class StepScorer(Scorer):
    """Values any partial or complete solution."""

    @abstractmethod
    def score(self, items: Sequence[ScoreItem]) -> list[float]:
        """One value in [-1, 1] per item (the value of its last step)."""


class NeedsGold(Scorer):
    """Final answers are valued by the gold answer (+1 / −1): problems must carry one."""


class NullScorer(Scorer):
    """No learned or known signal: strategies fall back to answer agreement."""

    name = "none"


def is_scored(scorer: Scorer) -> bool:
    """Whether a search with ``scorer`` has a signal beyond answer agreement (the
    strategies' scorer-dependent defaults follow it)."""
    return not isinstance(scorer, NullScorer)


def step_scorer(scorer: Scorer) -> StepScorer | None:
    """``scorer`` when it values steps, else None."""
    return scorer if isinstance(scorer, StepScorer) else None
