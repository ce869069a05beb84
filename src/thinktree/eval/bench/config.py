"""``BenchConfig``: how one sitting of ``thinktree bench RECIPE`` goes (its options are
generated from it). What the recipe measures is the recipe's; this only says where its
paths start, which store to use instead of its own, and what this sitting does."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class BenchConfig(BaseModel):
    """One sitting of a benchmark recipe: its root and store, its time bound, and whether
    it runs, only reports, only exports or only says what it would do."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    root: str = "."
    """Where the recipe's relative paths start (the repository)."""
    store: str | None = None
    """Run store instead of the recipe's."""
    max_minutes: float | None = None
    """Stop cleanly after this long; rerun to resume."""
    dry_run: bool = False
    """Say which runs are stored and what would run; load no model."""
    report_only: bool = False
    """Write the reports from stored runs only."""
    no_report: bool = False
    """Run, write no report."""
    export_only: bool = False
    """Export the store's runs (and ledgers), run nothing."""
    assignments: list[str] | None = None
    """A probe option, e.g. --set tokens=64 (repeatable)."""
