"""The embedding cache: resume after a kill, no text embedded twice, its cost kept across sittings."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from thinktree.reward.features import FeatureSpec, Featurizer
from thinktree.steps import Step, StepKind
from thinktree.train.ppm.data import EmbeddingCache, pair_features
from thinktree.train.ppm.pairs import PreferencePair


class CountingEmbedder:
    """Vector = (length of the text, 1): enough to check which texts were embedded."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.seen.extend(texts)
        return [[float(len(t)), 1.0] for t in texts]


def _pairs(problems: int) -> list[PreferencePair]:
    good = Step(text="\nx = 4", kind=StepKind.CODE, code="x = 4", output="4")
    bad = Step(text="\ny = z", kind=StepKind.CODE, code="y = z", error="NameError")
    return [
        PreferencePair(f"p/{i}", f"Question {i}?", (), (good,), (bad,), 1.0, -1.0, "step", 0)
        for i in range(problems)
    ]


def test_cache_reopens_with_its_vectors_and_seconds(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    cache.add(["a", "b"], np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32), seconds=2.5)
    cache.add(["c"], np.array([[1.0, 1.0]], dtype=np.float32), seconds=1.0)
    again = EmbeddingCache(tmp_path)
    assert again.seconds == 3.5
    np.testing.assert_array_equal(again.get(["c", "a"]), [[1.0, 1.0], [1.0, 0.0]])
    assert again.missing(["a", "d", "d", "e"]) == ["d", "e"]


def test_torn_write_starts_the_cache_over(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    cache.add(["a", "b"], np.ones((2, 2), dtype=np.float32), seconds=4.0)
    cache.index_path.write_text('["only-one-key"]')  # index and vectors disagree
    again = EmbeddingCache(tmp_path)
    assert (again.keys, again.vectors, again.seconds) == ([], None, 0.0)


def test_pair_features_embed_only_texts_not_yet_cached(tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    featurizer = Featurizer(FeatureSpec(("embedding",), "fast"), embedder=embedder)
    cache = EmbeddingCache(tmp_path)
    xp, xn = pair_features(_pairs(2), featurizer, cache)
    assert len(embedder.seen) == 4 and xp.shape == xn.shape == (2, 2)
    first_seconds = cache.seconds
    assert first_seconds > 0
    xp3, _ = pair_features(_pairs(3), featurizer, EmbeddingCache(tmp_path))
    assert len(embedder.seen) == 6  # only problem 2's two texts were new
    np.testing.assert_array_equal(xp3[:2], xp)
    assert EmbeddingCache(tmp_path).seconds > first_seconds
