"""Scorers of partial solutions."""

from thinktree.reward.base import NullScorer, ScoreItem, Scorer
from thinktree.reward.outcome import OutcomeScorer

__all__ = ["NullScorer", "OutcomeScorer", "ScoreItem", "Scorer"]
