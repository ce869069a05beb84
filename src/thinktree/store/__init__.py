"""The SQLite run store, and carrying a run between stores as a file."""

from thinktree.store.config import StoreConfig
from thinktree.store.store import DEFAULT_STORE, ResultRow, RunRecord, RunStore, StoreError
from thinktree.store.transfer import ImportReport, export_run, import_run, write_run

__all__ = [
    "DEFAULT_STORE",
    "ImportReport",
    "ResultRow",
    "RunRecord",
    "RunStore",
    "StoreConfig",
    "StoreError",
    "export_run",
    "import_run",
    "write_run",
]
