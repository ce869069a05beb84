"""The process preference model as a scorer: features, then a small trained head.

A PPM directory holds ``ppm.json`` (feature spec, head shape, training record)
and ``head.npz`` (standardisation and weights). Scoring needs only numpy and the
feature model; training (``thinktree[train]``) writes the directory. The raw
head output ``r`` is trained with the pairwise loss ``−log σ(r⁺ − r⁻)``; search
sees ``tanh(r)``, a value in [−1, 1].
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from thinktree.embedding import Embedder
from thinktree.reward.base import ScoreItem, StepScorer
from thinktree.reward.features import FeatureSpec, Featurizer

PPM_FILE = "ppm.json"
HEAD_FILE = "head.npz"
PPM_FILES = (PPM_FILE, HEAD_FILE)
"""What a scorer loads from a PPM directory."""


class PPMError(RuntimeError):
    """A PPM directory is missing or unreadable; the message says what to do."""


def ppm_identity(directory: str | Path) -> str:
    """The scorer id runs record for the PPM in ``directory``: its head file's hash."""
    digest = hashlib.sha256((Path(directory) / HEAD_FILE).read_bytes()).hexdigest()[:12]
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
    return all((directory / name).is_file() for name in PPM_FILES)


def load_ppm(directory: str | Path, embedder: Embedder | None = None) -> PPM:
    directory = Path(directory)
    config_path, head_path = directory / PPM_FILE, directory / HEAD_FILE
    if not is_trained_ppm(directory):
        raise PPMError(
            f"{directory} is not a trained PPM (needs {PPM_FILE} and {HEAD_FILE}); "
            "train one with: thinktree ppm train --runs RUN --out DIR"
        )
    try:
        config = json.loads(config_path.read_text())
        with np.load(head_path) as data:
            weights = {k: data[k] for k in data.files}
        spec = FeatureSpec.from_dict(config["features"])
    except (OSError, ValueError, KeyError) as exc:
        raise PPMError(f"cannot read the PPM in {directory}: {exc}") from exc
    featurizer = Featurizer(spec, embedder=embedder)
    featurizer.start()
    return PPM(directory, config, weights, featurizer)
