"""Last-token hidden states of a causal LM in torch, reusing the KV cache of shared prefixes.

The PPM reads (question, steps so far). In a search tree a child's text extends
its parent's, so with the parent's KV cache kept only the child's new step is
read: the "computed in tree order with the prompt cache" of rStar's value head.
llama.cpp cannot do this here: on xllamacpp 2026.10.11549 embedding requests
never reuse the prefix cache (measured: the same 232-token text twice, and with a
suffix, each cost the full 8–9 s), so a node would cost its whole text. torch's
fp32 forward of the dequantised GGUF also reads a cold prompt about 3× faster on
this CPU (232 tokens: 2.3 s vs 8.9 s, measured side by side).

The embedder keeps the KV caches of the last ``max_cached`` texts; a new text
starts from the cached one sharing its longest token prefix. Vectors are
L2-normalised, as llama.cpp returns embeddings.
"""

from __future__ import annotations

import contextlib
import copy
import io
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thinktree.engines.base import EngineError

TRAIN_EXTRA_HINT = "install the training extra: pip install 'thinktree[train]'"


@dataclass
class HiddenStateStats:
    texts: int = 0
    tokens: int = 0
    """Tokens of all texts embedded."""
    reused_tokens: int = 0
    """Of those, tokens whose keys and values came from a cached prefix."""


@dataclass
class _Entry:
    cache: Any
    vector: list[float]


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class HiddenStateEmbedder:
    """``embed(texts)``: one unit vector per text, the model's last-token hidden state.

    An :class:`~thinktree.embedding.Embedder`, not a completion engine: it reads
    texts and generates nothing."""

    def __init__(
        self,
        model: Any,
        tokenize: Callable[[str], list[int]],
        name: str = "model",
        max_cached: int = 128,
    ) -> None:
        self.model = model
        self.tokenize = tokenize
        self.name = name
        self.max_cached = max_cached
        self.stats = HiddenStateStats()
        self._cached: OrderedDict[tuple[int, ...], _Entry] = OrderedDict()

    @classmethod
    def from_gguf(
        cls, path: str | Path, name: str | None = None, max_cached: int = 128
    ) -> HiddenStateEmbedder:
        """Load a GGUF model with transformers, dequantised to fp32 (under a minute for the 0.5B)."""
        path = Path(path)
        if not path.is_file():
            raise EngineError(f"no model file at {path}; install the model or pass another --model")
        try:
            import torch
            from transformers import AutoModel, AutoTokenizer
        except ImportError as exc:
            raise EngineError(
                f"hidden-state features need torch and transformers: {TRAIN_EXTRA_HINT}"
            ) from exc
        # transformers draws two progress bars per load (one per tensor); they would
        # bury the CLI's own, and a failure still raises with its message.
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
                model = AutoModel.from_pretrained(
                    str(path.parent), gguf_file=path.name, dtype=torch.float32
                )
        except Exception as exc:  # transformers raises many types on unreadable files
            raise EngineError(f"transformers could not load {path}: {exc}") from exc
        model.eval()

        def tokenize(text: str) -> list[int]:
            return list(tokenizer(text, add_special_tokens=False)["input_ids"])

        return cls(model, tokenize, name=name or path.stem, max_cached=max_cached)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Texts in tree order (parents before children) reuse the most."""
        return [self._embed_one(text) for text in texts]

    def _embed_one(self, text: str) -> list[float]:
        import torch

        ids = self.tokenize(text)
        if not ids:
            raise EngineError("cannot embed an empty text")
        key = tuple(ids)
        self.stats.texts += 1
        self.stats.tokens += len(ids)
        hit = self._cached.get(key)
        if hit is not None:
            self._cached.move_to_end(key)
            self.stats.reused_tokens += len(ids)
            return list(hit.vector)
        reused, cache = self._best_prefix(ids)
        with torch.inference_mode():
            out = self.model(
                input_ids=torch.tensor([ids[reused:]], dtype=torch.long),
                cache=cache,
                use_cache=True,
            )
        hidden = out.last_hidden_state[0, -1].float()
        vector = (hidden / hidden.norm().clamp_min(1e-12)).tolist()
        self.stats.reused_tokens += reused
        if self.max_cached > 0:
            self._cached[key] = _Entry(out.cache, vector)
            while len(self._cached) > self.max_cached:
                self._cached.popitem(last=False)
        return vector

    def _best_prefix(self, ids: list[int]) -> tuple[int, Any]:
        """(tokens reused, a private copy of the cache holding them) — (0, None) on a miss."""
        best_len, best_key = 0, None
        for key in self._cached:
            n = _common_prefix(key, ids)
            if n > best_len:
                best_len, best_key = n, key
        best_len = min(best_len, len(ids) - 1)  # at least one token must be read for its state
        if best_key is None or best_len <= 0:
            return 0, None
        self._cached.move_to_end(best_key)
        cache = copy.deepcopy(self._cached[best_key].cache)
        if best_len < len(best_key):
            cache.crop(best_len - len(best_key))  # transformers 5 crops by a negative count
        return best_len, cache

    def close(self) -> None:
        self._cached.clear()
