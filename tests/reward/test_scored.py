"""Whether a search is scored: from a scorer object and from a --scorer spec alike."""

from __future__ import annotations

import pytest

from thinktree.reward.base import NullScorer, is_scored
from thinktree.reward.outcome import OutcomeScorer
from thinktree.reward.registry import spec_is_scored


@pytest.mark.parametrize(
    ("spec", "scored"),
    [(None, False), ("none", False), ("outcome", True), ("ppm:/nowhere", True),
     ("ppm+outcome:/nowhere", True)],
)  # fmt: skip
def test_a_spec_is_scored_without_loading_anything(spec, scored) -> None:
    assert spec_is_scored(spec) is scored


def test_an_unknown_spec_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown scorer 'oracle'"):
        spec_is_scored("oracle")


def test_a_scorer_object_is_scored_unless_it_is_the_null_scorer() -> None:
    assert is_scored(NullScorer()) is False
    assert is_scored(OutcomeScorer()) is True
