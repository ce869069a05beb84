"""What the LM PPM is judged by: its pairwise accuracy on the held-out pairs beside the
baselines', and every held-out pair's scores, so that which pairs it gets wrong can
be read without scoring them again.

``held_out.jsonl`` (beside ``ppm.json``), one held-out pair a line, in the pairs'
order::

    {"problem_id": "gsm8k/train/1234", "kind": "outcome", "node_id": 0, "clean": true,
     "policy": "qwen2.5-coder-1.5b-instruct",
     "chosen_answer": "18", "rejected_answer": "16",
     "chosen_steps": 3, "rejected_steps": 2,
     "scores": {"lm": [c, r], "base": [c, r], "mean_logprob": [c, r],
                "feature": [c, r] or null}}

A side's answer is its last step's (null when it ends without one); ``c`` and ``r``
are the chosen and the rejected side's scores (the pair is right when ``c > r``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from thinktree.train.ppm.head import pairwise_accuracy
from thinktree.train.ppm.pairs import PreferencePair

HELD_OUT_FILE = "held_out.jsonl"

Scores = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class HeldOutScores:
    """Each scorer's (chosen, rejected) scores of the held-out pairs."""

    trained: Scores
    """The trained LM PPM's."""
    base: Scores
    """The untrained base model's, read the same way."""
    mean_logprob: Scores
    """The policy's mean token log-probability of each side."""
    features: Scores | None
    """The feature PPM's, where it was trained as a baseline."""


def held_out_accuracy(valid: Sequence[PreferencePair], scores: HeldOutScores) -> dict[str, Any]:
    """Pairwise accuracies on the held-out pairs: the trained LM PPM (all pairs, the
    clean ones, by kind), the untrained base, mean log-probability, the feature PPM; and
    per policy that made the pairs (``unknown`` for pairs read from no run), the LM PPM's
    and mean log-probability's by kind."""
    clean = np.array([p.clean for p in valid])
    kinds = np.array([p.kind for p in valid])
    policies = np.array([p.policy for p in valid])
    trained, logprob, features = scores.trained, scores.mean_logprob, scores.features
    return {
        "lm_ppm": pairwise_accuracy(*trained),
        # None, not NaN (which JSON cannot hold), when no held-out pair is clean.
        "lm_ppm_clean": (
            pairwise_accuracy(trained[0][clean], trained[1][clean]) if clean.any() else None
        ),
        "lm_ppm_by_kind": by_kind(trained, np.ones(len(valid), dtype=bool), kinds),
        "base": pairwise_accuracy(*scores.base),
        "mean_logprob": pairwise_accuracy(*logprob),
        "feature_ppm": None if features is None else pairwise_accuracy(*features),
        "by_policy": {
            policy or "unknown": {
                scorer: by_kind(scores, policies == policy, kinds)
                for scorer, scores in (("lm_ppm", trained), ("mean_logprob", logprob))
            }
            for policy in sorted(set(policies))
        },
    }


def by_kind(scores: Scores, chosen: np.ndarray, kinds: np.ndarray) -> dict[str, float]:
    """Pairwise accuracy of the ``chosen`` pairs, per kind among them."""
    masks = {kind: chosen & (kinds == kind) for kind in sorted(set(kinds[chosen]))}
    return {
        kind: pairwise_accuracy(scores[0][mask], scores[1][mask]) for kind, mask in masks.items()
    }


def held_out_rows(valid: Sequence[PreferencePair], scores: HeldOutScores) -> list[dict[str, Any]]:
    """One row a held-out pair (the module docstring's format)."""

    def both(side: Scores | None, i: int) -> list[float] | None:
        return None if side is None else [float(side[0][i]), float(side[1][i])]

    return [
        {
            "problem_id": pair.problem_id,
            "kind": pair.kind,
            "node_id": pair.node_id,
            "clean": pair.clean,
            "policy": pair.policy,
            "chosen_answer": pair.chosen[-1].answer if pair.chosen else None,
            "rejected_answer": pair.rejected[-1].answer if pair.rejected else None,
            "chosen_steps": len(pair.chosen),
            "rejected_steps": len(pair.rejected),
            "scores": {
                "lm": both(scores.trained, i),
                "base": both(scores.base, i),
                "mean_logprob": both(scores.mean_logprob, i),
                "feature": both(scores.features, i),
            },
        }
        for i, pair in enumerate(valid)
    ]


def write_held_out(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(row, allow_nan=False) + "\n" for row in rows))
