"""``StoreConfig``: which run store a command reads and writes, its one option ``--store``;
``ExportConfig``: where ``thinktree runs export`` writes a run, and what of it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from thinktree.store.store import DEFAULT_STORE


class StoreConfig(BaseModel):
    """The run store of a command; every command that takes a store takes this one option."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    path: str = DEFAULT_STORE
    """Run store (SQLite): the file runs are written to and read from."""


class ExportConfig(BaseModel):
    """A run exported as a file (:func:`~thinktree.store.transfer.export_run`) or to stdout."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    out: str | None = None
    """Write here, atomically (default: stdout); a .gz name is gzip'd."""
    trees: bool = True
    """Include MCTS trees."""
