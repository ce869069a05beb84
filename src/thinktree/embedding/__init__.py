"""Embedding backends: one vector per text, the last-token hidden state of a model.

The PPM's ``embedding`` features read these (:mod:`thinktree.reward.features`);
this package is where the models behind them are loaded, so that reward/ only
scores. Two backends, whose vectors differ (a PPM head is trained for one):

- ``torch`` (:mod:`.hidden_states`): the GGUF dequantised in transformers (the
  ``train`` extra); a text that extends a cached one reads only its new tokens;
- ``llamacpp``: the GGUF as quantised, through
  :meth:`thinktree.engines.llamacpp.LlamaCppEngine.embed`; on xllamacpp
  2026.10.11549 embedding requests do not reuse the prefix cache, so a text
  costs all its tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

BACKENDS = ("llamacpp", "torch")


class Embedder(Protocol):
    """Unit vectors of texts, in order; texts in tree order (parents first) reuse most."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...

    def close(self) -> None: ...


def open_embedder(model: str | None, backend: str, parallel: int = 2) -> Embedder:
    """Load ``model`` (an embedded model name or a GGUF path) for ``backend``."""
    from thinktree.models import resolve_model

    if backend not in BACKENDS:
        raise ValueError(f"unknown embedding backend {backend!r}; use one of {BACKENDS}")
    resolved = resolve_model(model)
    if backend == "torch":
        from thinktree.embedding.hidden_states import HiddenStateEmbedder

        return HiddenStateEmbedder.from_gguf(resolved.path, name=resolved.name)
    from thinktree.engines.llamacpp import LlamaCppEngine, LlamaCppOptions

    return LlamaCppEngine(
        resolved.path,
        LlamaCppOptions(n_parallel=parallel, ctx_per_slot=2048, embedding=True),
        name=resolved.name,
    )
