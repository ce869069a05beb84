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

    def score(self, items: Sequence[ScoreItem]) -> list[float]:
        raise TypeError("the outcome scorer values final answers only; it has no step scores")
