"""An evolve round's PPM as an LM PPM (``ppm_kind: lm``): trained on the pairs of every
tree so far, as the feature PPM of :mod:`thinktree.train.ppm.round` is.

Its figures differ from the feature PPM's: its headline is the pairwise accuracy on
the pairs of problems held out by hash (:func:`thinktree.train.ppm.pairs.is_validation`),
beside the feature PPM's, mean log-probability's and the untrained model's on the same
pairs. An LM PPM takes hours on a CPU, so the training stops at a checkpoint at the
round's deadline (None is returned) and the next call resumes it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from thinktree.store import RunStore
from thinktree.train.ppm.data import collect_pairs
from thinktree.train.ppm.lm.config import LMPPMConfig
from thinktree.train.ppm.lm.output import BaseFile
from thinktree.train.ppm.lm.training import Loader, train_lm_ppm


def train_round_lm_ppm(
    store: RunStore,
    runs: Sequence[str],
    out: Path,
    config: LMPPMConfig,
    deadline: float | None,
    base: BaseFile | None = None,
    load: Loader | None = None,
) -> dict[str, Any] | None:
    """Train the round's LM PPM into ``out`` (or finish it) and return its figures; None
    when ``deadline`` (``time.monotonic()``) passed first. ``base``: the model file the
    adapter is trained over (``config.base_model`` resolved when None). ``ValueError``
    when the trees hold too few pairs to hold whole problems out."""
    pairs = collect_pairs(store, runs)
    if not pairs:
        raise ValueError("the trees hold no preference pairs")
    if base is None:
        from thinktree.models.resolve import resolve_model

        resolved = resolve_model(config.base_model)
        base = BaseFile(resolved.name, resolved.path, resolved.digest())
    stop = None if deadline is None else lambda: time.monotonic() > deadline
    result = train_lm_ppm(pairs, out, config, base, load=load, stop=stop)
    if result is None:
        return None
    training = result.record["training"]
    held = training["held_out_accuracy"]
    return {
        "kind": "lm",
        "pairs": len(pairs),
        "problems_with_pairs": len({p.problem_id for p in pairs}),
        "pairs_held_out": training["pairs_held_out"],
        "problems_held_out": training["problems_held_out"],
        "pairwise_accuracy_held_out": held["lm_ppm"],
        "baselines_held_out": {
            "features": held["feature_ppm"],
            "mean_logprob": held["mean_logprob"],
            "untrained": held["base"],
        },
        "steps": training["steps"],
        "ppm_minutes": training["seconds"] / 60,
    }
