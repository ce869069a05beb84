"""Scorers: what values a search's steps and answers (see :mod:`thinktree.reward.base`)."""

from thinktree.reward.base import NeedsGold, NullScorer, ScoreItem, Scorer, StepScorer
from thinktree.reward.outcome import OutcomeGuided, OutcomeScorer

__all__ = [
    "NeedsGold",
    "NullScorer",
    "OutcomeGuided",
    "OutcomeScorer",
    "ScoreItem",
    "Scorer",
    "StepScorer",
]
