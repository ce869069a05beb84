"""Scorers by name: ``none``, ``outcome``, ``ppm:DIR``."""

from __future__ import annotations

from pathlib import Path

from thinktree.reward.base import NullScorer, Scorer
from thinktree.reward.outcome import OutcomeScorer


def load_scorer(spec: str | None, **options: object) -> tuple[Scorer, str]:
    """The scorer named by ``spec`` and an identity string for run fingerprints."""
    spec = (spec or "none").strip()
    if spec == "none":
        return NullScorer(), "none"
    if spec == "outcome":
        return OutcomeScorer(), "outcome"
    if spec.startswith("ppm:"):
        from thinktree.reward.ppm import load_ppm

        directory = Path(spec[4:]).expanduser()
        ppm = load_ppm(directory, **options)
        return ppm, f"ppm:{ppm.identity}"
    raise ValueError(f"unknown scorer {spec!r}; use none, outcome or ppm:DIR")
