"""``GradeConfig``: how ``thinktree grade`` runs the grader; ``GradeInput``: what it grades
(the command's options are generated from both)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from thinktree.grading.grader import DEFAULT_TIMEOUT


class GradeConfig(BaseModel):
    """The grader of a batch of (prediction, gold) pairs."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    timeout: float = Field(DEFAULT_TIMEOUT, ge=0.1)
    """Seconds per check."""
    workers: int = Field(2, ge=1)
    """Grader worker processes (one for a single --pred/--gold pair)."""


class GradeInput(BaseModel):
    """The pairs to grade: one (``pred``, ``gold``), or a JSONL file of them."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    pred: str | None = None
    """Model output or bare answer."""
    gold: str | None = None
    """The reference answer."""
    file: Path | None = None
    """JSONL file of {"pred": ..., "gold": ...} lines."""

    @model_validator(mode="before")
    @classmethod
    def _one_input(cls, data: Any) -> Any:
        """A pair or a file, said in the command's words."""
        if not isinstance(data, dict):
            return data
        pair = (data.get("pred"), data.get("gold"))
        if data.get("file") is not None and pair != (None, None):
            raise ValueError("give either --file or --pred/--gold, not both")
        if data.get("file") is None and None in pair:
            raise ValueError("give --pred and --gold (or --file FILE.jsonl)")
        return data
