"""The process preference model as a scorer: features, then a small trained head;
or, when ``ppm.json`` says ``"kind": "lm"``, a LoRA adapter served by llama.cpp
(:mod:`thinktree.reward.lm_ppm`). :func:`load_ppm` loads either.

A feature PPM directory holds ``ppm.json`` (feature spec, head shape, training
record) and ``head.npz`` (standardisation and weights). Scoring needs only numpy
and the feature model; training (``thinktree[train]``) writes the directory. The
raw head output ``r`` is trained with the pairwise loss ``−log σ(r⁺ − r⁻)``;
search sees ``tanh(r)``, a value in [−1, 1].
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from thinktree.embedding import Embedder
from thinktree.reward.base import ScoreItem, StepScorer
from thinktree.reward.features import FeatureSpec, Featurizer
from thinktree.reward.ppm_dir import LM_KIND, PPM_FILE, PPMError, ppm_kind, read_ppm_json

if TYPE_CHECKING:
    from thinktree.reward.lm_ppm import LMPPM, LMServing

__all__ = ["HEAD_FILE", "PPM", "PPM_FILE", "PPM_FILES", "PPMError", "load_ppm", "ppm_files"]

HEAD_FILE = "head.npz"
PPM_FILES = (PPM_FILE, HEAD_FILE)
"""What a scorer loads from a feature PPM directory (:func:`ppm_files` for either kind)."""


def _lm_config(directory: Path) -> dict[str, Any] | None:
    """``ppm.json`` when it declares an LM PPM, else None (also when unreadable)."""
    try:
        config = json.loads((Path(directory) / PPM_FILE).read_text())
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) and config.get("kind") == LM_KIND else None


def ppm_files(directory: str | Path) -> tuple[str, ...]:
    """The files a scorer loads from the PPM in ``directory``: ``ppm.json`` and
    ``head.npz``, or ``ppm.json`` and the adapter an LM PPM names."""
    config = _lm_config(Path(directory))
    if config is not None:
        return (PPM_FILE, str(config.get("adapter", "")))
    return PPM_FILES


def ppm_identity(directory: str | Path) -> str:
    """The scorer id runs record for the PPM in ``directory``: its head file's hash, or
    for an LM PPM ``lm-`` and its adapter's hash."""
    directory = Path(directory)
    config = _lm_config(directory)
    if config is not None:
        from thinktree.reward.lm_ppm import lm_ppm_adapter

        adapter = lm_ppm_adapter(directory, config)
        if adapter is None:
            raise PPMError(
                f"{directory / PPM_FILE} names adapter {config.get('adapter')!r}, which is missing"
            )
        return f"ppm:lm-{hashlib.sha256(adapter.read_bytes()).hexdigest()[:12]}"
    digest = hashlib.sha256((directory / HEAD_FILE).read_bytes()).hexdigest()[:12]
    return f"ppm:{digest}"


def head_forward(weights: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Raw scores ``r`` of a linear or one-hidden-layer head, or the mean score of
    an ensemble of them (weights stacked on a leading member axis)."""
    layers = {k: v for k, v in weights.items() if k not in ("mean", "std")}
    if layers["w"].ndim == 2:  # a single head
        layers = {k: v[None] for k, v in layers.items()}
    z = ((x - weights["mean"]) / weights["std"])[None]
    if "w1" in layers:
        z = np.maximum(z @ layers["w1"] + layers["b1"][:, None, :], 0.0)
    return (z @ layers["w"] + layers["b"][:, None, :]).mean(axis=0).reshape(-1)


class PPM(StepScorer):
    name = "ppm"

    def __init__(
        self,
        directory: Path,
        config: dict[str, Any],
        weights: dict[str, np.ndarray],
        featurizer: Featurizer,
    ) -> None:
        self.directory = directory
        self.config = config
        self.weights = weights
        self.featurizer = featurizer
        self.identity = ppm_identity(directory).removeprefix("ppm:")
        self.seconds = 0.0

    def raw(self, items: Sequence[ScoreItem]) -> np.ndarray:
        return head_forward(self.weights, self.featurizer.features(items))

    def score(self, items: Sequence[ScoreItem]) -> list[float]:
        import time

        started = time.perf_counter()
        values = np.tanh(self.raw(items)).tolist() if items else []
        self.seconds += time.perf_counter() - started
        return values

    def close(self) -> None:
        self.featurizer.close()


def is_trained_ppm(directory: Path) -> bool:
    """Whether ``directory`` holds every file a scorer loads (a PPM stage that ran)."""
    names = ppm_files(directory)
    return all(name and (Path(directory) / name).is_file() for name in names)


def load_ppm(
    directory: str | Path,
    embedder: Embedder | None = None,
    serving: LMServing | None = None,
) -> PPM | LMPPM:
    """The PPM in ``directory``, of the kind its ``ppm.json`` declares: a feature PPM
    (``embedder`` computes its embedding features) or an LM PPM on its own llama.cpp
    engine sized by ``serving``. PPMError with one line for anything missing."""
    directory = Path(directory)
    config = read_ppm_json(directory)
    if ppm_kind(directory, config) == LM_KIND:
        from thinktree.reward.lm_ppm import load_lm_ppm

        return load_lm_ppm(directory, config, serving)
    head_path = directory / HEAD_FILE
    if not head_path.is_file():
        raise PPMError(
            f"{directory} is not a trained PPM (needs {PPM_FILE} and {HEAD_FILE}); "
            "train one with: thinktree ppm train --runs RUN --out DIR"
        )
    try:
        with np.load(head_path) as data:
            weights = {k: data[k] for k in data.files}
        spec = FeatureSpec.from_dict(config["features"])
    except (OSError, ValueError, KeyError) as exc:
        raise PPMError(f"cannot read the PPM in {directory}: {exc}") from exc
    featurizer = Featurizer(spec, embedder=embedder)
    featurizer.start()
    return PPM(directory, config, weights, featurizer)
