"""``EvolveJobConfig``: where ``thinktree evolve`` keeps its rounds and what it reads its
config from (its options are generated from it). The rounds themselves are
:class:`~thinktree.train.evolve.config.EvolveConfig`'s: the YAML file, with ``--set``
and the flags of its own fields over it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class EvolveJobConfig(BaseModel):
    """One evolve run: its directory (resumable), its config file and the fields set
    over that file."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    out: str
    """Directory of the rounds (resumable)."""
    config: str | None = None
    """YAML file with every option."""
    assignments: list[str] | None = None
    """Any config field, e.g. --set sft.epochs=1 (repeatable)."""
