"""``EvalJobConfig``: how one sitting of ``thinktree eval`` runs (its options are generated
from it). What the run finds is the search's, engine's and problems' configs; this one
only decides how this sitting goes about it, so nothing here enters a run's fingerprint."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class EvalJobConfig(BaseModel):
    """One sitting of an evaluation: its lock-step window, its time bound, and whether it
    resumes the stored run that matches."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    window: int | None = Field(None, ge=1)
    """Problems searched in lock step (default: fill the slots)."""
    max_minutes: float | None = None
    """Stop cleanly after this long."""
    new_run: bool = False
    """Start a new run even if one matches."""
