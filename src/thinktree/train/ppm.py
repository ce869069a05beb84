"""Train a PPM from stored search trees: pairs, features, head, evaluation.

The validation split is by problem (:func:`thinktree.train.pairs.is_validation`),
so no problem has pairs on both sides. Alongside the PPM, three baselines are
scored on the same held-out pairs — the error flag of the last step, step
length (the sign is fitted on the training pairs) and the policy's mean token
log-probability — overall and on the *clean* pairs, where both sides ran
without an error.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from thinktree.reward.features import FeatureSpec, Featurizer
from thinktree.reward.ppm import HEAD_FILE, PPM_FILE, head_forward
from thinktree.store import RunStore
from thinktree.train.pairs import PreferencePair, is_validation, write_jsonl
from thinktree.train.ppm_data import EmbeddingCache, collect_pairs, pair_features
from thinktree.train.ppm_head import HeadConfig, pairwise_accuracy, train_head

Progress = Callable[[str, int, int], None]


def _side_steps(pair: PreferencePair) -> tuple[Sequence[Any], Sequence[Any]]:
    return pair.chosen, pair.rejected


def _mean_logprob(steps: Sequence[Any]) -> float:
    weighted = [(s.mean_logprob, max(s.tokens, 1)) for s in steps if s.mean_logprob is not None]
    if not weighted:
        return 0.0
    return sum(m * t for m, t in weighted) / sum(t for _, t in weighted)


def baseline_scores(
    pairs: Sequence[PreferencePair], name: str, sign: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    def value(steps: Sequence[Any]) -> float:
        if name == "error_flag":
            return -float(steps[-1].error is not None)
        if name == "step_length":
            return sign * sum(len(s.text) for s in steps)
        if name == "mean_logprob":
            return _mean_logprob(steps)
        raise ValueError(name)

    pos = np.array([value(p.chosen) for p in pairs])
    neg = np.array([value(p.rejected) for p in pairs])
    return pos, neg


def evaluate_baselines(
    train: Sequence[PreferencePair], valid: Sequence[PreferencePair]
) -> dict[str, dict[str, float]]:
    clean = [p for p in valid if p.clean]
    length_sign = 1.0 if pairwise_accuracy(*baseline_scores(train, "step_length")) >= 0.5 else -1.0
    out: dict[str, dict[str, float]] = {}
    for name in ("error_flag", "step_length", "mean_logprob"):
        sign = length_sign if name == "step_length" else 1.0
        out[name] = {
            "all": pairwise_accuracy(*baseline_scores(valid, name, sign)),
            "clean": pairwise_accuracy(*baseline_scores(clean, name, sign)),
        }
    out["step_length"]["sign"] = length_sign
    return out


@dataclass
class PPMTrainResult:
    directory: Path
    record: dict[str, Any] = field(default_factory=dict)


def train_ppm(
    store: RunStore,
    run_ids: Sequence[str],
    out: str | Path,
    *,
    features: FeatureSpec,
    head: HeadConfig,
    featurizer: Featurizer | None = None,
    progress: Progress | None = None,
    validation_fraction: float = 0.2,
    cache_dir: str | Path | None = None,
) -> PPMTrainResult:
    """Train and write a PPM to ``out``; embeddings are cached in ``cache_dir``
    (default ``out``), so candidates sharing features can share the cache."""
    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    pairs = collect_pairs(store, run_ids)
    if not pairs:
        raise ValueError(
            "the runs hold no preference pairs; run MCTS with --scorer outcome on training "
            "problems first (e.g. thinktree eval --benchmark gsm8k --split train --strategy mcts "
            "--scorer outcome)"
        )
    write_jsonl(pairs, directory / "pairs.jsonl")
    valid = [p for p in pairs if is_validation(p.problem_id, validation_fraction)]
    train = [p for p in pairs if not is_validation(p.problem_id, validation_fraction)]
    if not train or not valid:
        raise ValueError(
            f"{len(pairs)} pairs are too few to hold out whole problems; add more training rollouts"
        )
    own = featurizer is None
    featurizer = featurizer or Featurizer(features)
    try:
        cache_path = Path(cache_dir) if cache_dir is not None else directory
        cache = EmbeddingCache(cache_path) if "embedding" in features.kinds else None
        t0 = time.perf_counter()
        report = (lambda done, total: progress("features", done, total)) if progress else None
        train_x = pair_features(train, featurizer, cache, report)
        valid_x = pair_features(valid, featurizer, cache, report)
        feature_seconds = time.perf_counter() - t0
    finally:
        if own:
            featurizer.close()
    t1 = time.perf_counter()
    epoch_report = (lambda e, loss, val: progress("train", e, head.epochs)) if progress else None
    weights, fit = train_head(train_x, valid_x, head, directory / "checkpoint.pt", epoch_report)
    train_seconds = time.perf_counter() - t1
    np.savez(directory / HEAD_FILE, **weights)
    clean = np.array([p.clean for p in valid])
    r_pos, r_neg = head_forward(weights, valid_x[0]), head_forward(weights, valid_x[1])
    record = {
        "features": features.to_dict(),
        "head": head.to_dict(),
        "runs": list(run_ids),
        "pairs": len(pairs),
        "pairs_by_kind": {k: sum(1 for p in pairs if p.kind == k) for k in ("step", "final")},
        "train_pairs": len(train),
        "valid_pairs": len(valid),
        "valid_clean_pairs": int(clean.sum()),
        "train_problems": len({p.problem_id for p in train}),
        "valid_problems": len({p.problem_id for p in valid}),
        "pairwise_accuracy_train": pairwise_accuracy(
            head_forward(weights, train_x[0]), head_forward(weights, train_x[1])),
        "pairwise_accuracy": pairwise_accuracy(r_pos, r_neg),
        "pairwise_accuracy_clean": pairwise_accuracy(r_pos[clean], r_neg[clean]),
        "baselines": evaluate_baselines(train, valid),
        "feature_seconds": feature_seconds,
        "train_seconds": train_seconds,
        "total_seconds": time.perf_counter() - started,
        **fit,
    }  # fmt: skip
    (directory / PPM_FILE).write_text(json.dumps(record, indent=2))
    return PPMTrainResult(directory, record)
