"""A recipe's reports: the runs it names, read from the store, and the results file.

The summary every recipe can list (``analyses: [summary]``) gives each run its
entry (accuracy with its 95 % Wilson interval, tokens and seconds per problem) and,
per *arm* (the runs of one name and model, pooled over their seeds: a problem
solved under seed 1 and under seed 2 counts as two (problem, seed) pairs), the
same figures pooled, and every pair of arms of a model compared on the pairs both
hold: problems won and lost, the two-sided exact sign test p, and which one
dominates (:func:`thinktree.eval.metrics.dominance`). Other analyses are named
report functions (:mod:`thinktree.eval.bench.analyses`) of a
:class:`ReportContext`; each returns the keys it writes into the results file.
Nothing is re-run: every figure comes from stored results.

A run's seconds per problem share its wall time out by problem count, so a run
reported on part of what it solved (the baseline's 200-problem greedy on test[:50])
reports the seconds of that part.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from pathlib import Path
from typing import Any

from thinktree.eval.bench.recipe import PlannedRun, Recipe, ReportSpec
from thinktree.eval.bench.runner import find_stored
from thinktree.eval.metrics import dominance, summarize
from thinktree.eval.report import RunReport, build_reports, plot_accuracy_vs_tokens
from thinktree.problems import load_problems
from thinktree.store import ResultRow, RunRecord, RunStore


@dataclass
class ArmReport(RunReport):
    """A run of a recipe (or an arm's runs pooled), labelled by its arm."""

    arm: str = ""
    seeds: list[int] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.run.model} {self.arm}"


@dataclass
class ReportContext:
    """What an analysis reads: the store, the report's spec, and the recipe's runs
    found whole in the store (in the store's order), cut to the report's slice."""

    store: RunStore
    spec: ReportSpec
    reports: list[ArmReport]
    missing: list[str]

    def option(self, name: str, default: Any = None) -> Any:
        return self.spec.options.get(name, default)


def default_arm(run: RunRecord) -> str:
    """``sc@4``, ``mcts@4+ppm``...: the stored run's label without its model."""
    label = RunReport(run, [], {}).label
    return label.removeprefix(f"{run.model} ")


def collect(store: RunStore, recipe: Recipe, spec: ReportSpec) -> ReportContext:
    """The recipe's runs that the store holds whole (every problem of their slice),
    each cut to the report's slice (a run with no row in it is left out); the rest
    are named in ``missing``."""
    found: dict[str, tuple[PlannedRun, list[ResultRow]]] = {}
    missing = []
    for planned in recipe.planned():
        problems, dataset, data_hash = load_problems(planned.spec.source)
        run = find_stored(store, planned, dataset, data_hash)
        wanted = {p.id for p in problems}
        rows = [] if run is None else [r for r in store.results(run.id) if r.problem_id in wanted]
        if run is None or len(rows) < len(wanted):
            missing.append(planned.describe())
            continue
        found.setdefault(run.id, (planned, rows))
    cut = {run_id: rows for run_id, (_, rows) in found.items()}
    if spec.slice is not None:
        reported = {p.id for p in load_problems(spec.slice)[0]}
        cut = {
            run_id: [r for r in rows if r.problem_id in reported] for run_id, rows in cut.items()
        }
    chosen = [run for run in store.list_runs() if cut.get(run.id)]
    reports = []
    for rep in build_reports([(run, cut[run.id]) for run in chosen]):
        planned = found[rep.run.id][0]
        arm = planned.spec.name or default_arm(rep.run)
        reports.append(ArmReport(rep.run, rep.rows, rep.summary, arm, [planned.config.seed]))
    return ReportContext(store, spec, reports, missing)


def run_entry(rep: RunReport) -> dict[str, Any]:
    """A run's figures as the results files list them."""
    search = rep.run.config["search"]
    return {
        "run_id": rep.run.id, "model": rep.run.model, "strategy": rep.run.strategy,
        "samples": 1 if rep.run.strategy == "greedy" else search["samples"],
        "k": search["k"] if rep.run.strategy == "mcts" else None,
        "scorer": scorer_of(rep.run),
        "accuracy": rep.summary["accuracy"], "ci95": rep.summary["ci95"],
        "tokens_per_problem": rep.summary["tokens_per_problem"],
        "seconds_per_problem": rep.summary["seconds_per_problem"],
        "n": rep.summary["n"],
    }  # fmt: skip


def scorer_of(run: RunRecord) -> str:
    return str(run.config.get("scorer", "none") or "none")


def seeded_rows(rows: Sequence[ResultRow], seed: int) -> list[ResultRow]:
    """Rows with problem ids tagged by seed, so runs of several seeds pool into one
    comparison over (problem, seed) pairs."""
    return [replace(row, problem_id=f"{seed}:{row.problem_id}") for row in rows]


def pooled_arms(reports: Sequence[ArmReport]) -> list[ArmReport]:
    """One report per (model, arm): its runs' rows over every seed, its wall time the
    sum of theirs."""
    groups: dict[tuple[str, str], list[ArmReport]] = {}
    for rep in reports:
        groups.setdefault((rep.run.model, rep.arm), []).append(rep)
    out = []
    for (_, arm), reps in groups.items():
        rows = [row for rep in reps for row in seeded_rows(rep.rows, rep.seeds[0])]
        walls = [rep.summary.get("wall_seconds") for rep in reps]
        wall = None if None in walls else sum(w or 0.0 for w in walls)
        seeds = sorted(seed for rep in reps for seed in rep.seeds)
        out.append(ArmReport(reps[0].run, rows, summarize(rows, wall_seconds=wall), arm, seeds))
    return out


def arm_entry(arm: ArmReport) -> dict[str, Any]:
    s = arm.summary
    return {
        "model": arm.run.model, "arm": arm.arm, "seeds": arm.seeds, "n": s["n"],
        "correct": s["correct"], "accuracy": s["accuracy"], "ci95": s["ci95"],
        "tokens_per_problem": s["tokens_per_problem"],
        "seconds_per_problem": s["seconds_per_problem"],
    }  # fmt: skip


def arm_pairs(
    arms: Sequence[ArmReport], wanted: Sequence[tuple[str, str]] | None
) -> list[dict[str, Any]]:
    """Arms of one model compared on the (problem, seed) pairs both hold: ``wanted``
    (arm names) or every pair in recipe order."""
    out = []
    for model in dict.fromkeys(arm.run.model for arm in arms):
        by_name = {arm.arm: arm for arm in arms if arm.run.model == model}
        names = wanted if wanted is not None else list(combinations(by_name, 2))
        for a, b in names:
            if a in by_name and b in by_name:
                d = dominance(by_name[a].rows, by_name[b].rows)
                out.append({"model": model, "a": a, "b": b, **d})
    return out


def summary(ctx: ReportContext) -> dict[str, Any]:
    """Every run's entry (``runs``) and the arms pooled over seeds with their pairs
    (``summary``); the plot of the arms where the report names one."""
    arms = pooled_arms(ctx.reports)
    if ctx.spec.plot is not None:
        plot_accuracy_vs_tokens(arms, ctx.spec.plot)
    return {
        "runs": [run_entry(rep) for rep in ctx.reports],
        "summary": {
            "arms": [arm_entry(arm) for arm in arms],
            "pairs": arm_pairs(arms, ctx.spec.pairs),
        },
    }


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
    from thinktree.eval.bench.analyses import ANALYSES

    spec = spec.model_copy(update={"plot": None if spec.plot is None else str(root / spec.plot)})
    ctx = collect(store, recipe, spec)
    path = root / spec.results
    doc: dict[str, Any] = {}
    if path.exists() and not fresh:
        doc = json.loads(path.read_text())
    for name in spec.analyses:
        doc = merge_results(doc, ANALYSES[name](ctx))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path, ctx


def by_arm(ctx: ReportContext) -> dict[str, Any]:
    """Each run's figures under its arm's name (baseline.json's shape: one key a slice)."""
    return {
        rep.arm: {
            "run_id": rep.run.id,
            "n": rep.summary["n"],
            "accuracy": rep.summary["accuracy"],
            "ci95": rep.summary["ci95"],
            "answered": rep.summary["answered"],
            "tokens_per_problem": rep.summary["tokens_per_problem"],
            "seconds_per_problem": rep.summary["seconds_per_problem"],
            "cached_share": rep.summary["cached_share"],
        }
        for rep in ctx.reports
    }
