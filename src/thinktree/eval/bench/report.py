"""A recipe's reports: its named analyses run over the stored runs it names, and
the results file they write. Nothing is re-run: every figure comes from stored
results.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from thinktree.eval.bench.analyses import ANALYSES
from thinktree.eval.bench.context import ReportContext, collect
from thinktree.eval.bench.recipe import Recipe, ReportSpec
from thinktree.store import RunStore


def merge_results(doc: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``update``'s keys written into ``doc``: ``runs`` entries merged by run id (an
    entry keeps its place; new ones are appended), every other key replaced."""
    out = dict(doc)
    for key, value in update.items():
        if key == "runs" and isinstance(out.get("runs"), list):
            entries = {e["run_id"]: dict(e) for e in out["runs"]}
            for entry in value:
                entries[entry["run_id"]] = {**entries.get(entry["run_id"], {}), **entry}
            out["runs"] = list(entries.values())
        else:
            out[key] = value
    return out


def write_report(
    store: RunStore, recipe: Recipe, spec: ReportSpec, root: Path, *, fresh: bool = False
) -> tuple[Path, ReportContext]:
    """Run the report's analyses and write its results file (keys it does not write
    kept, unless ``fresh``); the file and what the analyses read."""

    spec = spec.model_copy(update={"plot": None if spec.plot is None else str(root / spec.plot)})
    ctx = collect(store, recipe, spec, root)
    path = root / spec.results
    doc: dict[str, Any] = {}
    if path.exists() and not fresh:
        doc = json.loads(path.read_text())
    for name in spec.analyses:
        doc = merge_results(doc, ANALYSES[name](ctx))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path, ctx
