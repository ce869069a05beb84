"""Outcome rewards: +1 for a correct final answer, −1 for a wrong one.

Used for training rollouts, where the gold answer is known. It values final
answers only; search strategies ask their answer judge for correctness, so this
scorer carries no state and scores no partial solution.
"""

from __future__ import annotations

from collections.abc import Sequence

from thinktree.reward.base import ScoreItem, Scorer


class OutcomeScorer(Scorer):
    name = "outcome"
    kind = "outcome"
    terminal_outcome = True

    def score(self, items: Sequence[ScoreItem]) -> list[float]:
        raise TypeError("the outcome scorer values final answers only; it has no step scores")


class OutcomeGuided(Scorer):
    """A learned scorer's values for new steps, outcome rewards for final answers.

    rStar-Math's training rollouts after the first round: the PPM initialises
    each new node and steers selection, while the gold answer values terminals,
    so the tree's Q values (which choose SFT data and PPM pairs) stay grounded.
    """

    kind = "learned"
    terminal_outcome = True

    def __init__(self, inner: Scorer) -> None:
        self.inner = inner
        self.name = f"{inner.name}+outcome"

    def score(self, items: Sequence[ScoreItem]) -> list[float]:
        return self.inner.score(items)

    def close(self) -> None:
        self.inner.close()
