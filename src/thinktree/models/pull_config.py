"""``PullConfig``: how ``thinktree models pull`` assembles a model's file (its options are
generated from it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class PullConfig(BaseModel):
    """Assembling an embedded model's GGUF file from its installed part packages."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    force: bool = False
    """Assemble again even if cached."""
