"""``GradeConfig``: how ``thinktree grade`` runs the grader (its options are generated from it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from thinktree.grading.grader import DEFAULT_TIMEOUT


class GradeConfig(BaseModel):
    """The grader of a batch of (prediction, gold) pairs."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    timeout: float = Field(DEFAULT_TIMEOUT, ge=0.1)
    """Seconds per check."""
    workers: int = Field(2, ge=1)
    """Grader worker processes (one for a single --pred/--gold pair)."""
