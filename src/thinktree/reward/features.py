"""Features of (question, steps so far) for the process preference model.

Two kinds, combinable:

- ``embedding``: the last-token hidden state of an embedded model (L2-normalised)
  over :func:`thinktree.steps.solution_text` — the question and the steps with
  their outputs, no instruction (``context="full"``), or the question and the
  last step only (``context="last"``, about half the tokens). The model runs in
  one of the backends of :mod:`thinktree.embedding` (``torch``: a node costs its
  new step; ``llamacpp``: its whole text); their vectors differ, so a head is
  trained for one backend. This module only turns texts into features: loading
  the model is :func:`thinktree.embedding.open_embedder`'s job.
- ``handcrafted``: cheap signals of the last step and the path (error, length,
  log-probability, output shape, depth) and sanity checks of a word problem's
  arithmetic (the question's quantities used, fractional or negative answers),
  named in :data:`HANDCRAFTED` so that a PPM records which it was trained on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from thinktree.embedding import BACKENDS, Embedder, open_embedder
from thinktree.reward.base import ScoreItem
from thinktree.steps import Step, StepKind, consecutive_errors, solution_text

_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
_QUANTITY = re.compile(r"\d[\d,]*(?:\.\d+)?")

Feature = Callable[[str, Sequence[Step]], float]
"""One handcrafted feature of (question, steps so far); the last step is the one scored."""


def _number(text: str) -> float | None:
    try:
        value = float(text.strip().replace(",", "").lstrip("$").rstrip("%"))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _quantities(text: str) -> set[float]:
    return {v for v in (_number(m) for m in _QUANTITY.findall(text)) if v is not None}


def _answer(steps: Sequence[Step]) -> str:
    return (steps[-1].answer or "").strip()


def _previous_output(steps: Sequence[Step]) -> str:
    return next((s.output.strip() for s in reversed(steps[:-1]) if s.executed), "")


def _fractional(value: float | None) -> bool:
    return value is not None and value != int(value)


def _question_numbers_used(question: str, steps: Sequence[Step]) -> float:
    """Share of the question's quantities that the code so far writes down: a
    solution that ignores a given quantity has usually misread the problem."""
    given = _quantities(question)
    if not given:
        return 1.0
    return len(given & _quantities("\n".join(s.code or "" for s in steps))) / len(given)


HANDCRAFTED: dict[str, Feature] = {
    "error": lambda q, s: float(s[-1].error is not None),
    "final": lambda q, s: float(s[-1].kind is StepKind.FINAL),
    "invalid": lambda q, s: float(s[-1].kind is StepKind.INVALID),
    "log_text_chars": lambda q, s: math.log1p(len(s[-1].text)),
    "log_code_chars": lambda q, s: math.log1p(len(s[-1].code or "")),
    "code_lines": lambda q, s: float(len((s[-1].code or "").splitlines())),
    "mean_logprob": lambda q, s: float(s[-1].mean_logprob or 0.0),
    "output_numeric": lambda q, s: float(bool(_NUMBER.match(s[-1].output.strip()))),
    "output_empty": lambda q, s: float(s[-1].executed and not s[-1].output.strip()),
    "log_output_chars": lambda q, s: math.log1p(len(s[-1].output.strip())),
    "depth": lambda q, s: float(len(s)),
    "consecutive_errors": lambda q, s: float(consecutive_errors(list(s))),
    "error_share": lambda q, s: sum(1 for x in s if x.error is not None) / len(s),
    "answer_integer": lambda q, s: float(bool(re.fullmatch(r"-?\d+", _answer(s)))),
    "answer_matches_output": lambda q, s: float(
        bool(_answer(s)) and _answer(s) == _previous_output(s)
    ),
    # Sanity checks of a word problem's arithmetic (added after the first 15).
    "question_numbers_used": _question_numbers_used,
    "answer_fractional": lambda q, s: float(_fractional(_number(_answer(s)))),
    "answer_negative": lambda q, s: float((_number(_answer(s)) or 0.0) < 0),
    "output_fractional": lambda q, s: float(
        any(_fractional(_number(x.output)) for x in s if x.executed)
    ),
}
HANDCRAFTED_NAMES: tuple[str, ...] = tuple(HANDCRAFTED)
HANDCRAFTED_V1: tuple[str, ...] = HANDCRAFTED_NAMES[:15]
"""The features of PPMs written before features were named in ``ppm.json``."""


def handcrafted(
    question: str, steps: Sequence[Step], names: Sequence[str] = HANDCRAFTED_NAMES
) -> list[float]:
    return [HANDCRAFTED[name](question, steps) for name in names]


def last_step_text(question: str, steps: Sequence[Step]) -> str:
    """The question and the last step with its output, numbered as in the solution."""
    text = solution_text(question, list(steps[-1:]))
    return text.replace("Step 1:", f"Step {len(steps)}:", 1) if len(steps) > 1 else text


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
    handcrafted: tuple[str, ...] = HANDCRAFTED_NAMES
    """Which of :data:`HANDCRAFTED` the "handcrafted" kind computes, in order."""

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown embedding backend {self.backend!r}; use one of {BACKENDS}")
        unknown = [name for name in self.handcrafted if name not in HANDCRAFTED]
        if unknown:
            raise ValueError(
                f"unknown handcrafted features {unknown}; use names from {HANDCRAFTED_NAMES}"
            )

    def to_dict(self) -> dict[str, object]:
        return {
            "kinds": list(self.kinds),
            "model": self.model,
            "context": self.context,
            "backend": self.backend,
            "handcrafted": list(self.handcrafted),
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> FeatureSpec:
        return cls(
            tuple(data["kinds"]),
            data.get("model"),  # type: ignore[arg-type]
            str(data.get("context", "full")),
            str(data.get("backend", "llamacpp")),  # PPMs written before backends existed
            tuple(data.get("handcrafted", HANDCRAFTED_V1)),  # type: ignore[arg-type]
        )


class Featurizer:
    """Computes the features a :class:`FeatureSpec` names; owns the embedder it opens."""

    def __init__(
        self, spec: FeatureSpec, embedder: Embedder | None = None, parallel: int = 2
    ) -> None:
        self.spec = spec
        self._owned: Embedder | None = None
        self._given = embedder
        self._parallel = parallel

    @property
    def embedder(self) -> Embedder:
        """Started on first use: features read from a cache never load the model."""
        if self._given is not None:
            return self._given
        if self._owned is None:
            self._owned = open_embedder(self.spec.model, self.spec.backend, self._parallel)
        return self._owned

    def start(self) -> None:
        """Load the embedding model now (a scorer does, so that no score call pays for it)."""
        if "embedding" in self.spec.kinds:
            _ = self.embedder

    def texts(self, items: Sequence[ScoreItem]) -> list[str]:
        if self.spec.context == "last":
            return [last_step_text(item.question, list(item.steps)) for item in items]
        return [solution_text(item.question, list(item.steps)) for item in items]

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: texts[i])
        vectors = self.embedder.embed([texts[i] for i in order])
        out = np.zeros((len(texts), len(vectors[0]) if vectors else 0), dtype=np.float32)
        for row, i in enumerate(order):
            out[i] = vectors[row]
        return out

    def handcrafted_features(self, items: Sequence[ScoreItem]) -> np.ndarray:
        names = self.spec.handcrafted
        rows = [handcrafted(item.question, list(item.steps), names) for item in items]
        return np.array(rows, dtype=np.float32).reshape(len(items), len(names))

    def features(self, items: Sequence[ScoreItem]) -> np.ndarray:
        blocks = []
        if "embedding" in self.spec.kinds:
            blocks.append(self.embed_texts(self.texts(items)))
        if "handcrafted" in self.spec.kinds:
            blocks.append(self.handcrafted_features(items))
        return np.concatenate(blocks, axis=1) if len(blocks) > 1 else blocks[0]

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()
            self._owned = None
