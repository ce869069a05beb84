"""``StoreConfig``: which run store a command reads and writes, its one option ``--store``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from thinktree.store.store import DEFAULT_STORE


class StoreConfig(BaseModel):
    """The run store of a command; every command that takes a store takes this one option."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    path: str = DEFAULT_STORE
    """Run store (SQLite): the file runs are written to and read from."""
