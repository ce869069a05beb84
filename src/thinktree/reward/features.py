"""Features of (question, steps so far) for the process preference model.

Two kinds, combinable:

- ``embedding``: the last-token hidden state of an embedded model (L2-normalised)
  over :func:`thinktree.steps.solution_text` — the question and the steps with
  their outputs, no instruction (``context="full"``), or the question and the
  last step only (``context="last"``, about half the tokens). Two backends:
  ``torch`` (:mod:`thinktree.engines.hidden_states`: reuses the KV cache of a
  parent's text, so a node costs its new step) and ``llamacpp`` (the GGUF as
  quantised, but on xllamacpp 2026.10.11549 embedding requests do not reuse the
  prefix cache, so a node costs its whole text). Their vectors differ: a head
  is trained for one backend.
- ``handcrafted``: cheap signals of the last step and the path (error, length,
  log-probability, output shape, depth), also used to build the baselines.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from thinktree.reward.base import ScoreItem
from thinktree.steps import Step, StepKind, consecutive_errors, solution_text

_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")

HANDCRAFTED_NAMES: tuple[str, ...] = (
    "error", "final", "invalid", "log_text_chars", "log_code_chars", "code_lines",
    "mean_logprob", "output_numeric", "output_empty", "log_output_chars", "depth",
    "consecutive_errors", "error_share", "answer_integer", "answer_matches_output",
)  # fmt: skip


def handcrafted(steps: Sequence[Step]) -> list[float]:
    last = steps[-1]
    output = last.output.strip()
    previous = next((s.output.strip() for s in reversed(steps[:-1]) if s.executed), "")
    answer = (last.answer or "").strip()
    return [
        float(last.error is not None),
        float(last.kind is StepKind.FINAL),
        float(last.kind is StepKind.INVALID),
        math.log1p(len(last.text)),
        math.log1p(len(last.code or "")),
        float(len((last.code or "").splitlines())),
        float(last.mean_logprob if last.mean_logprob is not None else 0.0),
        float(bool(_NUMBER.match(output))),
        float(last.executed and not output),
        math.log1p(len(output)),
        float(len(steps)),
        float(consecutive_errors(list(steps))),
        sum(1 for s in steps if s.error is not None) / len(steps),
        float(bool(re.fullmatch(r"-?\d+", answer))),
        float(bool(answer) and answer == previous),
    ]


def last_step_text(question: str, steps: Sequence[Step]) -> str:
    """The question and the last step with its output, numbered as in the solution."""
    text = solution_text(question, list(steps[-1:]))
    return text.replace("Step 1:", f"Step {len(steps)}:", 1) if len(steps) > 1 else text


BACKENDS = ("llamacpp", "torch")


@dataclass(frozen=True)
class FeatureSpec:
    kinds: tuple[str, ...]
    """Any of "embedding", "handcrafted", in this order."""
    model: str | None = None
    """Embedded model name (or GGUF path) whose hidden states are used."""
    context: str = "full"
    """What the embedding reads: "full" (all steps) or "last" (the last step)."""
    backend: str = "torch"
    """Who computes the embedding: "torch" (prefix-cached) or "llamacpp"."""

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown embedding backend {self.backend!r}; use one of {BACKENDS}")

    def to_dict(self) -> dict[str, object]:
        return {
            "kinds": list(self.kinds),
            "model": self.model,
            "context": self.context,
            "backend": self.backend,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> FeatureSpec:
        return cls(
            tuple(data["kinds"]),
            data.get("model"),  # type: ignore[arg-type]
            str(data.get("context", "full")),
            str(data.get("backend", "llamacpp")),  # PPMs written before backends existed
        )


class Featurizer:
    """Computes the features a :class:`FeatureSpec` names; owns its embedding engine."""

    def __init__(
        self, spec: FeatureSpec, embedder: object | None = None, parallel: int = 2
    ) -> None:
        self.spec = spec
        self._owned: object | None = None
        self._given = embedder
        self._parallel = parallel

    @property
    def embedder(self) -> object:
        """Started on first use: features read from a cache never load the model."""
        if self._given is not None:
            return self._given
        if self._owned is None:
            self._owned = self._start_embedder()
        return self._owned

    def start(self) -> None:
        """Load the embedding model now (a scorer does, so that no score call pays for it)."""
        if "embedding" in self.spec.kinds:
            _ = self.embedder

    def _start_embedder(self) -> object:
        from thinktree.models import resolve_model

        resolved = resolve_model(self.spec.model)
        if self.spec.backend == "torch":
            from thinktree.engines.hidden_states import HiddenStateEngine

            return HiddenStateEngine.from_gguf(resolved.path, name=resolved.name)
        from thinktree.engines.llamacpp import LlamaCppEngine, LlamaCppOptions

        return LlamaCppEngine(
            resolved.path,
            LlamaCppOptions(n_parallel=self._parallel, ctx_per_slot=2048, embedding=True),
            name=resolved.name,
        )

    def texts(self, items: Sequence[ScoreItem]) -> list[str]:
        if self.spec.context == "last":
            return [last_step_text(item.question, list(item.steps)) for item in items]
        return [solution_text(item.question, list(item.steps)) for item in items]

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: texts[i])
        vectors = self.embedder.embed([texts[i] for i in order])  # type: ignore[union-attr]
        out = np.zeros((len(texts), len(vectors[0]) if vectors else 0), dtype=np.float32)
        for row, i in enumerate(order):
            out[i] = vectors[row]
        return out

    def features(self, items: Sequence[ScoreItem]) -> np.ndarray:
        blocks = []
        if "embedding" in self.spec.kinds:
            blocks.append(self.embed_texts(self.texts(items)))
        if "handcrafted" in self.spec.kinds:
            blocks.append(np.array([handcrafted(list(i.steps)) for i in items], dtype=np.float32))
        return np.concatenate(blocks, axis=1) if len(blocks) > 1 else blocks[0]

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()  # type: ignore[attr-defined]
            self._owned = None
