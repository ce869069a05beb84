"""Outcome rewards: +1 for a correct final answer, −1 for a wrong one.

Used for training rollouts, where the gold answer is known. Search strategies
ask their answer judge for correctness, so these scorers carry no state; the
plain :class:`OutcomeScorer` values no partial solution at all.
"""

from __future__ import annotations

from collections.abc import Sequence

from thinktree.reward.base import NeedsGold, ScoreItem, StepScorer


class OutcomeScorer(NeedsGold):
    """Final answers valued by the gold answer; nothing else is valued."""

    name = "outcome"


class OutcomeGuided(StepScorer, NeedsGold):
    """A step scorer's values for new steps, outcome rewards for final answers.

    rStar-Math's training rollouts after the first round: the PPM initialises
    each new node and steers selection, while the gold answer values terminals,
    so the tree's Q values (which choose SFT data and PPM pairs) stay grounded.
    """

    def __init__(self, inner: StepScorer) -> None:
        self.inner = inner
        self.name = f"{inner.name}+outcome"

    def score(self, items: Sequence[ScoreItem]) -> list[float]:
        return self.inner.score(items)

    def close(self) -> None:
        self.inner.close()
