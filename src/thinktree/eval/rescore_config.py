"""``RescoreConfig``: what ``thinktree rescore`` picks with (its options are generated
from it): the scorer and the selection rule, both checked before a PPM is loaded."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import model_validator

from thinktree.reward.choice import ScorerChoice

RescoreRule = Literal["best", "weighted"]
RESCORE_RULES: tuple[str, ...] = get_args(RescoreRule)
"""The rules that read scores; the first is the default (what rescoring always did)."""


class RescoreConfig(ScorerChoice):
    """A scored selection over a stored sampling run's samples."""

    scorer: str
    """The scorer that picks: ppm:DIR."""
    select: RescoreRule = "best"
    """The rule that picks: best (the best-scored sample, best-of-N) or weighted (scores
    summed per answer class, each as (s + 1) / 2)."""

    @model_validator(mode="before")
    @classmethod
    def _known_rule(cls, data: Any) -> Any:
        """An unknown rule in the command's words (pydantic's own would name the field)."""
        if isinstance(data, dict) and data.get("select", RESCORE_RULES[0]) not in RESCORE_RULES:
            raise ValueError(
                f"unknown --select {data['select']!r}; use {' or '.join(RESCORE_RULES)}"
            )
        return data
