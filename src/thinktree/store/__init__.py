"""The SQLite run store."""

from thinktree.store.store import DEFAULT_STORE, ResultRow, RunRecord, RunStore, StoreError

__all__ = ["DEFAULT_STORE", "ResultRow", "RunRecord", "RunStore", "StoreError"]
