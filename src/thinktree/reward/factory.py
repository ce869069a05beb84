"""Scorers by name: ``none``, ``outcome``, ``ppm:DIR``, ``ppm+outcome:DIR``."""

from __future__ import annotations

from pathlib import Path

from thinktree.reward.base import NullScorer, Scorer
from thinktree.reward.outcome import OutcomeGuided, OutcomeScorer


def load_scorer(spec: str | None, **options: object) -> tuple[Scorer, str]:
    """The scorer named by ``spec`` and an identity string for run fingerprints."""
    spec = (spec or "none").strip()
    if spec == "none":
        return NullScorer(), "none"
    if spec == "outcome":
        return OutcomeScorer(), "outcome"
    for prefix in ("ppm:", "ppm+outcome:"):
        if spec.startswith(prefix):
            from thinktree.reward.ppm import load_ppm

            ppm = load_ppm(Path(spec[len(prefix) :]).expanduser(), **options)
            if prefix == "ppm:":
                return ppm, f"ppm:{ppm.identity}"
            return OutcomeGuided(ppm), f"ppm+outcome:{ppm.identity}"
    raise ValueError(
        f"unknown scorer {spec!r}; use none, outcome, ppm:DIR or ppm+outcome:DIR "
        "(the PPM's step values with gold-answer rewards, for training rollouts)"
    )
