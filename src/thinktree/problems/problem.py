"""The unit of work: one math problem with its gold answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """A question and, when known, its gold final answer.

    ``answer`` is the final answer as a string (a number for GSM8K, LaTeX for
    MATH-500); ``None`` for a user's question with no known answer.
    """

    id: str
    question: str
    answer: str | None = None
    source: str = "custom"
    meta: dict[str, Any] = field(default_factory=dict)
