"""What a recipe's analyses read: its runs found whole in the store, each cut to
the report's problems and named by its arm (the runs of one name and model, which
pool over their seeds), and the entry each run gets in a results file. A run that
names ``rescore`` brings its rescored runs too, one per rule, each the arm of the
run's name and the rule (``sc@4 weighted``).

A run's seconds per problem share its wall time out by problem count, so a run
reported on part of what it solved (the baseline's 200-problem greedy on test[:50])
reports the seconds of that part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from thinktree.eval.bench.recipe import PlannedRun, Recipe, ReportSpec
from thinktree.eval.bench.runner import find_stored
from thinktree.eval.report import RunReport, build_reports
from thinktree.eval.rescore import find_rescored
from thinktree.problems import load_problems
from thinktree.search.mcts.search import MCTSSearch
from thinktree.search.registry import budget_field, is_strategy
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
    found whole in the store (in the store's order), cut to the report's slice; ``root``
    is where the recipe's relative paths start."""

    store: RunStore
    spec: ReportSpec
    reports: list[ArmReport]
    missing: list[str]
    root: Path = Path(".")

    def option(self, name: str, default: Any = None) -> Any:
        return self.spec.options.get(name, default)

    def path_option(self, name: str, default: str) -> Path:
        """An option naming a file or directory of the repository, under ``root``."""
        return self.root / str(self.option(name, default))


def default_arm(run: RunRecord) -> str:
    """``sc@4``, ``mcts@4+ppm``...: the stored run's label without its model."""
    label = RunReport(run, [], {}).label
    return label.removeprefix(f"{run.model} ")


def rescored_runs(
    store: RunStore, planned: PlannedRun, source: RunRecord, wanted: set[str]
) -> tuple[list[tuple[RunRecord, list[ResultRow], str]], list[str]]:
    """The rescorings of ``source`` (a planned run with ``rescore``) held whole on
    ``wanted``, with their rules; and the descriptions of the rules' runs that are not."""
    if planned.spec.rescore is None:
        return [], []
    from thinktree.reward.ppm_dir import PPMError
    from thinktree.reward.registry import ppm_spec_identity

    found, missing = [], []
    try:
        identity = ppm_spec_identity(planned.spec.rescore)
    except (PPMError, OSError, ValueError) as exc:
        return [], [f"{planned.describe()} rescored: {exc}"]
    for rule in planned.spec.rescore_select:
        run = find_rescored(store, source, identity, rule)
        rows = [] if run is None else [r for r in store.results(run.id) if r.problem_id in wanted]
        if run is None or len(rows) < len(wanted):
            missing.append(f"{planned.describe()} rescored {rule}")
        else:
            found.append((run, rows, rule))
    return found, missing


def collect(
    store: RunStore, recipe: Recipe, spec: ReportSpec, root: Path = Path(".")
) -> ReportContext:
    """The recipe's runs that the store holds whole (every problem of their slice),
    and their rescorings, each cut to the report's slice (a run with no row in it is
    left out); the rest are named in ``missing``."""
    # run id -> its planned run, rows, and (for a rescoring) its source run and rule
    found: dict[str, tuple[PlannedRun, list[ResultRow], RunRecord | None, str]] = {}
    missing = []
    for planned in recipe.planned():
        problems, dataset, data_hash = load_problems(planned.spec.source)
        run = find_stored(store, planned, dataset, data_hash)
        wanted = {p.id for p in problems}
        rows = [] if run is None else [r for r in store.results(run.id) if r.problem_id in wanted]
        if run is None or len(rows) < len(wanted):
            missing.append(planned.describe())
            continue
        found.setdefault(run.id, (planned, rows, None, ""))
        rescored, not_whole = rescored_runs(store, planned, run, wanted)
        missing += not_whole
        for rescoring, rescored_rows, rule in rescored:
            found.setdefault(rescoring.id, (planned, rescored_rows, run, rule))
    cut = {run_id: rows for run_id, (_, rows, _, _) in found.items()}
    if spec.slice is not None:
        reported = {p.id for p in load_problems(spec.slice)[0]}
        cut = {
            run_id: [r for r in rows if r.problem_id in reported] for run_id, rows in cut.items()
        }
    chosen = [run for run in store.list_runs() if cut.get(run.id)]
    reports = []
    for rep in build_reports([(run, cut[run.id]) for run in chosen]):
        planned, _, source, rule = found[rep.run.id]
        arm = planned.spec.name or default_arm(source or rep.run)
        arm = f"{arm} {rule}" if source is not None else arm
        reports.append(ArmReport(rep.run, rep.rows, rep.summary, arm, [planned.config.seed]))
    return ReportContext(store, spec, reports, missing, root)


def run_entry(rep: RunReport) -> dict[str, Any]:
    """A run's figures as the results files list them."""
    search = rep.run.config["search"]
    return {
        "run_id": rep.run.id, "model": rep.run.model, "strategy": rep.run.strategy,
        "samples": search["samples"] if budget_field(rep.run.strategy) else 1,
        "k": search["k"] if is_strategy(rep.run.strategy, MCTSSearch) else None,
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
