"""A round's PPM: trained on every tree so far, measured on problems no choice has seen.

The PPM written is the default one of ``thinktree ppm train`` (handcrafted
features, an averaged ensemble of MLP heads) fitted on the pairs of all the
given runs. Its headline figure for the round, ``pairwise_accuracy_new``, is
the pairwise accuracy on the pairs of the *new* problems (those outside
``known``) of a head fitted on the other pairs only: neither the head nor the
choice of features has seen those problems. Baselines are scored on the same
pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from thinktree.reward.features import FeatureSpec, Featurizer
from thinktree.store import RunStore
from thinktree.train.ppm.data import collect_pairs, pair_features
from thinktree.train.ppm.head import HeadConfig
from thinktree.train.ppm.pairs import is_validation
from thinktree.train.ppm.training import accuracies, score_held_out, train_ppm

FEATURES = FeatureSpec(("handcrafted",))


def new_problem_accuracy(
    store: RunStore, runs: Sequence[str], config: HeadConfig, known: set[str]
) -> dict[str, Any]:
    """Pairwise accuracy on the pairs of problems outside ``known``, by a head fitted
    on the pairs of ``known`` problems (None when either side has no pairs)."""
    pairs = collect_pairs(store, runs)
    new = np.array([p.problem_id not in known for p in pairs], dtype=bool)
    figures: dict[str, Any] = {
        "pairs_new": int(new.sum()),
        "pairs_known": int((~new).sum()),
        "problems_new": len({p.problem_id for p, n in zip(pairs, new, strict=True) if n}),
    }
    if not new.any() or new.all():
        return {**figures, "pairwise_accuracy_new": None}
    featurizer = Featurizer(FEATURES)
    try:
        x = pair_features(pairs, featurizer, None)
    finally:
        featurizer.close()
    stopping = np.array([is_validation(p.problem_id) for p in pairs])
    scores = score_held_out(pairs, x, config, new, stopping)
    clean = np.array([p.clean for p, n in zip(pairs, new, strict=True) if n])
    head = accuracies(*scores["head"], clean)
    return {
        **figures,
        "pairwise_accuracy_new": head["all"],
        "pairwise_accuracy_new_clean": head["clean"],
        "baselines_new": {
            name: accuracies(*value, clean) for name, value in scores.items() if name != "head"
        },
    }


def train_round_ppm(
    store: RunStore,
    runs: Sequence[str],
    out: Path,
    config: HeadConfig,
    known: set[str],
) -> dict[str, Any]:
    """Write PPM_r to ``out`` and return the round's PPM figures."""
    result = train_ppm(store, runs, out, features=FEATURES, head=config)
    record = result.record
    return {
        "pairs": record["pairs"],
        "problems_with_pairs": record["problems_with_pairs"],
        "pairwise_accuracy_cv": record["pairwise_accuracy"],
        **new_problem_accuracy(store, runs, config, known),
    }
