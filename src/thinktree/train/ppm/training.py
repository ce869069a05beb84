"""Train a PPM from stored search trees: pairs, features, head, evaluation.

Every split is by problem, so no problem has pairs on both sides of it. The
PPM written to ``out`` is fitted on the training problems and early-stopped on
the validation problems (:func:`thinktree.train.ppm.pairs.is_validation`). Its
accuracy is measured by ``folds``-fold cross-validation
(:func:`thinktree.train.ppm.pairs.fold_of`): each fold's pairs are scored by a head
that never saw those problems, neither for fitting nor for early stopping, and
the out-of-fold scores of all pairs give ``pairwise_accuracy`` — with few
problems holding pairs, one 20 % split leaves too few held-out pairs to read.
Alongside, three baselines are scored on the same pairs the same way — the
error flag of the last step, step length (its sign fitted on the training
folds) and the policy's mean token log-probability — overall and on the
*clean* pairs, where both sides ran without an error.
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
from thinktree.train.ppm.data import EmbeddingCache, collect_pairs, pair_features
from thinktree.train.ppm.head import HeadConfig, pairwise_accuracy, train_head
from thinktree.train.ppm.pairs import (
    PAIR_KINDS,
    PreferencePair,
    fold_of,
    is_validation,
    write_jsonl,
)

Progress = Callable[[str, int, int], None]


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


BASELINES = ("error_flag", "step_length", "mean_logprob")


def length_sign(train: Sequence[PreferencePair]) -> float:
    """+1 if longer steps win on the training pairs, else −1."""
    return 1.0 if pairwise_accuracy(*baseline_scores(train, "step_length")) >= 0.5 else -1.0


def accuracies(r_pos: np.ndarray, r_neg: np.ndarray, clean: np.ndarray) -> dict[str, float]:
    return {
        "all": pairwise_accuracy(r_pos, r_neg),
        "clean": pairwise_accuracy(r_pos[clean], r_neg[clean]),
    }


def score_held_out(
    pairs: Sequence[PreferencePair],
    x: tuple[np.ndarray, np.ndarray],
    head: HeadConfig,
    test: np.ndarray,
    stopping: np.ndarray,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Scores of the ``test`` pairs (a boolean mask) by the head fitted on the other
    pairs (early-stopped on those of them in ``stopping``) and by each baseline
    (step length's sign fitted on the other pairs): name → (chosen, rejected)."""
    xp, xn = x
    rest = ~test
    fit, stop = rest & ~stopping, rest & stopping
    if not fit.any() or not stop.any():  # too few problems to split: no early stopping
        fit = stop = rest
    weights, _ = train_head((xp[fit], xn[fit]), (xp[stop], xn[stop]), head)
    out = {"head": (head_forward(weights, xp[test]), head_forward(weights, xn[test]))}
    sign = length_sign([p for p, r in zip(pairs, rest, strict=True) if r])
    held_out = [p for p, t in zip(pairs, test, strict=True) if t]
    for name in BASELINES:
        out[name] = baseline_scores(held_out, name, sign)
    return out


def cross_validate(
    pairs: Sequence[PreferencePair],
    x: tuple[np.ndarray, np.ndarray],
    head: HeadConfig,
    folds: int,
    validation_fraction: float,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Out-of-fold pairwise accuracy of the head and of the baselines."""
    fold = np.array([fold_of(p.problem_id, folds) for p in pairs])
    stopping = np.array([is_validation(p.problem_id, validation_fraction) for p in pairs])
    clean = np.array([p.clean for p in pairs])
    names = ("head", *BASELINES)
    scores = {name: (np.zeros(len(pairs)), np.zeros(len(pairs))) for name in names}
    used = 0
    for f in range(folds):
        test = fold == f
        if not test.any() or test.all():
            continue
        for name, (pos, neg) in score_held_out(pairs, x, head, test, stopping).items():
            scores[name][0][test], scores[name][1][test] = pos, neg
        used += 1
        if progress is not None:
            progress(f + 1, folds)
    if used < 2:
        raise ValueError(
            f"{len(pairs)} pairs from {len(set(p.problem_id for p in pairs))} problems are too "
            f"few for {folds}-fold cross-validation by problem; add more training rollouts"
        )
    head_accuracy = accuracies(*scores["head"], clean)
    kinds = np.array([p.kind for p in pairs])
    return {
        "folds": folds,
        "pairwise_accuracy": head_accuracy["all"],
        "pairwise_accuracy_clean": head_accuracy["clean"],
        # Step pairs rank siblings (what MCTS and beam ask); final pairs rank whole
        # solutions (what best_of_n asks).
        "pairwise_accuracy_by_kind": {
            kind: pairwise_accuracy(
                scores["head"][0][kinds == kind], scores["head"][1][kinds == kind]
            )
            for kind in sorted(set(kinds))
        },
        "evaluated_pairs": len(pairs),
        "evaluated_clean_pairs": int(clean.sum()),
        "baselines": {name: accuracies(*scores[name], clean) for name in BASELINES},
    }


def seed_spread(
    pairs: Sequence[PreferencePair],
    x: tuple[np.ndarray, np.ndarray],
    head: HeadConfig,
    folds: int,
    validation_fraction: float,
    repeats: int,
    first: dict[str, Any],
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Cross-validated accuracy for ``repeats`` head seeds (``first`` is the run
    with ``head.seed``), each and on average."""
    seeds = [head.seed + r * head.ensemble for r in range(max(repeats, 1))]
    runs = [first]
    for s in seeds[1:]:
        seeded = head.model_copy(update={"seed": s})
        runs.append(cross_validate(pairs, x, seeded, folds, validation_fraction))
        if progress is not None:
            progress(len(runs), len(seeds))
    overall = [r["pairwise_accuracy"] for r in runs]
    clean = [r["pairwise_accuracy_clean"] for r in runs]
    return {
        "seeds": seeds,
        "pairwise_accuracy": overall,
        "pairwise_accuracy_clean": clean,
        "mean": float(np.mean(overall)),
        "mean_clean": float(np.mean(clean)),
    }


@dataclass
class PPMTrainResult:
    directory: Path
    record: dict[str, Any] = field(default_factory=dict)


def pairs_by_kind(pairs: Sequence[PreferencePair]) -> dict[str, int]:
    """Pairs of each kind; outcome pairs only where there are any, so the record of a
    PPM trained on trees alone reads as it always did."""
    counts = {kind: sum(p.kind == kind for p in pairs) for kind in PAIR_KINDS}
    return {kind: n for kind, n in counts.items() if n or kind != "outcome"}


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
    folds: int = 5,
    cache_dir: str | Path | None = None,
    seed_repeats: int = 1,
) -> PPMTrainResult:
    """Train and write a PPM to ``out``; embeddings are cached in ``cache_dir``
    (default ``out``), so candidates sharing features can share the cache.

    With ``seed_repeats`` > 1 the cross-validation is repeated with other head
    seeds (disjoint members for an ensemble) and ``seed_spread`` records each
    run's accuracy and their mean: on a few hundred pairs the seed alone moves
    the figure by points, so candidates are best compared by the mean."""
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
    is_valid = np.array([is_validation(p.problem_id, validation_fraction) for p in pairs])
    valid = [p for p, v in zip(pairs, is_valid, strict=True) if v]
    train = [p for p, v in zip(pairs, is_valid, strict=True) if not v]
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
        xp, xn = pair_features(pairs, featurizer, cache, report)
        feature_seconds = time.perf_counter() - t0
    finally:
        if own:
            featurizer.close()
    t1 = time.perf_counter()
    total_epochs = head.epochs * head.ensemble
    epoch_report = (lambda e, loss, val: progress("train", e, total_epochs)) if progress else None
    train_x, valid_x = (xp[~is_valid], xn[~is_valid]), (xp[is_valid], xn[is_valid])
    weights, fit = train_head(train_x, valid_x, head, directory / "checkpoint.pt", epoch_report)
    train_seconds = time.perf_counter() - t1
    np.savez(directory / HEAD_FILE, **weights)
    t2 = time.perf_counter()
    fold_report = (
        (lambda done, total: progress("cross-validation", done, total)) if progress else None
    )
    cv = cross_validate(pairs, (xp, xn), head, folds, validation_fraction, fold_report)
    spread = None
    if seed_repeats > 1:
        seed_report = (lambda done, total: progress("seeds", done, total)) if progress else None
        spread = seed_spread(
            pairs, (xp, xn), head, folds, validation_fraction, seed_repeats, cv, seed_report
        )
    clean = np.array([p.clean for p in valid])
    record = {
        "features": features.to_dict(),
        "head": head.to_dict(),
        "runs": list(run_ids),
        "pairs": len(pairs),
        "pairs_by_kind": pairs_by_kind(pairs),
        "problems_with_pairs": len({p.problem_id for p in pairs}),
        "train_pairs": len(train),
        "valid_pairs": len(valid),
        "valid_clean_pairs": int(clean.sum()),
        "train_problems": len({p.problem_id for p in train}),
        "valid_problems": len({p.problem_id for p in valid}),
        "pairwise_accuracy_train": pairwise_accuracy(
            head_forward(weights, train_x[0]), head_forward(weights, train_x[1])),
        # The written head's accuracy on its own validation split, which also chose
        # its epoch: optimistic, kept for comparison with the cross-validated figure.
        "pairwise_accuracy_valid": accuracies(
            head_forward(weights, valid_x[0]), head_forward(weights, valid_x[1]), clean),
        **cv,
        **({"seed_spread": spread} if spread is not None else {}),
        "feature_seconds": feature_seconds,
        # Every cached vector's cost, whichever sitting or candidate computed it.
        "feature_seconds_from_scratch": cache.seconds if cache is not None else feature_seconds,
        "train_seconds": train_seconds,
        "cross_validation_seconds": time.perf_counter() - t2,
        "total_seconds": time.perf_counter() - started,
        **fit,
    }  # fmt: skip
    (directory / PPM_FILE).write_text(json.dumps(record, indent=2))
    return PPMTrainResult(directory, record)
