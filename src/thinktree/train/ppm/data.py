"""Pairs and their features, with a resumable on-disk cache of embeddings."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from thinktree.reward.base import ScoreItem
from thinktree.reward.features import Featurizer
from thinktree.search.registry import STRATEGIES
from thinktree.store import RunStore
from thinktree.train.ppm.pairs import PreferencePair, outcome_pairs, pairs_from_tree

CACHE_CHUNK = 64


def collect_pairs(store: RunStore, run_ids: Sequence[str]) -> list[PreferencePair]:
    """The pairs of the runs' graded problems, each tagged with its run's model, in the
    order of ``run_ids`` and then of each run's stored problems: a run of independent
    samples (a strategy declaring ``independent_samples``: ``sc``, ``best_of_n``, a
    rescored run) gives outcome pairs from each problem's samples; any other run gives
    the step and final pairs of its stored trees (MCTS), none where it stored no tree.

    A rescored run holds its source's samples: naming both gives their outcome pairs twice.
    """
    pairs: list[PreferencePair] = []
    for run_id in run_ids:
        run = store.get_run(run_id)
        strategy = STRATEGIES.get(run.strategy)
        sampled = strategy is not None and strategy.independent_samples
        for row in store.iter_results(run.id):
            if row.gold is None:
                continue
            if sampled:
                found = outcome_pairs(row)
            else:
                tree = store.tree(run.id, row.problem_id)
                found = [] if tree is None else pairs_from_tree(row.problem_id, row.question, tree)
            pairs.extend(replace(pair, policy=run.model) for pair in found)
    return pairs


def side_items(pair: PreferencePair) -> tuple[ScoreItem, ScoreItem]:
    return (
        ScoreItem(pair.question, pair.prefix + pair.chosen, pair.problem_id),
        ScoreItem(pair.question, pair.prefix + pair.rejected, pair.problem_id),
    )


class EmbeddingCache:
    """Text -> embedding, stored in ``embeddings.npz`` + ``embeddings.json`` (text hashes).

    Saved every few dozen texts, so an interrupted extraction resumes where it
    stopped. ``seconds`` adds up the time spent computing every stored vector,
    across resumes, so feature cost is known however many sittings it took.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.index_path = directory / "embeddings.json"
        self.data_path = directory / "embeddings.npz"
        self.meta_path = directory / "embeddings.meta.json"
        self.keys: list[str] = []
        self.vectors: np.ndarray | None = None
        self.seconds = 0.0
        if self.index_path.is_file() and self.data_path.is_file():
            self.keys = json.loads(self.index_path.read_text())
            with np.load(self.data_path) as data:
                self.vectors = data["vectors"]
            if self.meta_path.is_file():
                self.seconds = float(json.loads(self.meta_path.read_text())["seconds"])
            if len(self.keys) != len(self.vectors):  # torn write: start over
                self.keys, self.vectors, self.seconds = [], None, 0.0
        self.row = {k: i for i, k in enumerate(self.keys)}

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode()).hexdigest()

    def missing(self, texts: Sequence[str]) -> list[str]:
        seen: set[str] = set()
        out = []
        for text in texts:
            k = self.key(text)
            if k not in self.row and k not in seen:
                seen.add(k)
                out.append(text)
        return out

    def add(self, texts: Sequence[str], vectors: np.ndarray, seconds: float = 0.0) -> None:
        keys = [self.key(t) for t in texts]
        self.seconds += seconds
        self.vectors = vectors if self.vectors is None else np.concatenate([self.vectors, vectors])
        for k in keys:
            self.row[k] = len(self.keys)
            self.keys.append(k)
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp_data = self.data_path.with_suffix(".tmp.npz")
        np.savez(tmp_data, vectors=self.vectors)
        tmp_data.replace(self.data_path)
        tmp_meta = self.meta_path.with_suffix(".tmp")
        tmp_meta.write_text(json.dumps({"seconds": self.seconds}))
        tmp_meta.replace(self.meta_path)
        tmp_index = self.index_path.with_suffix(".tmp")
        tmp_index.write_text(json.dumps(self.keys))
        tmp_index.replace(self.index_path)

    def get(self, texts: Sequence[str]) -> np.ndarray:
        assert self.vectors is not None
        return self.vectors[[self.row[self.key(t)] for t in texts]]


def pair_features(
    pairs: Sequence[PreferencePair],
    featurizer: Featurizer,
    cache: EmbeddingCache | None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Feature matrices of the chosen and the rejected sides, row i = pair i."""
    items = [item for pair in pairs for item in side_items(pair)]
    blocks = []
    if "embedding" in featurizer.spec.kinds:
        texts = featurizer.texts(items)
        if cache is None:
            blocks.append(featurizer.embed_texts(texts))
        else:
            todo = sorted(cache.missing(texts))  # sorted: parents before the nodes extending them
            for start in range(0, len(todo), CACHE_CHUNK):
                chunk = todo[start : start + CACHE_CHUNK]
                started = time.perf_counter()
                vectors = featurizer.embed_texts(chunk)
                cache.add(chunk, vectors, time.perf_counter() - started)
                if progress is not None:
                    progress(min(start + CACHE_CHUNK, len(todo)), len(todo))
            blocks.append(cache.get(texts))
    if "handcrafted" in featurizer.spec.kinds:
        blocks.append(featurizer.handcrafted_features(items))
    x = np.concatenate(blocks, axis=1) if len(blocks) > 1 else blocks[0]
    return x[0::2], x[1::2]
