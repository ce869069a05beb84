"""Run a recipe: import its exports, find or grow each run, export what grew.

Every run goes through :class:`thinktree.eval.Evaluation`, which finds a stored run
by its fingerprint and solves only the problems it lacks, so a recipe is resumed by
running it again. Before a model is loaded the runner looks in the store for a run
of the same data set, model, scorer and search (:func:`find_stored`): a run that
already holds every problem of its slice is reported and skipped, so a finished
recipe runs with no model at all. The store's exports (``exports``) are imported
first, so a fresh machine resumes what another one stored, and each run that grew
is exported again after its call, so a kill loses at most the running problem.
``max_minutes`` bounds the sitting: each call gets what is left, and no call
starts with less than a minute left.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thinktree.engines.factory import EngineConfig
from thinktree.eval.bench.recipe import PlannedRun, Recipe
from thinktree.eval.fanout.backend import SolverHandle
from thinktree.eval.harness import Evaluation
from thinktree.problems import Problem, ProblemSource, load_problems
from thinktree.search.registry import run_identity, stored_aliases
from thinktree.store import RunRecord, RunStore
from thinktree.store.transfer import export_run, import_run

# Opens a solver for one run: (engine config, search config, scorer) -> handle.
OpenSolver = Callable[[EngineConfig, Any, str], AbstractContextManager[SolverHandle]]


@dataclass
class RunStatus:
    """What became of one planned run: ``complete`` (found whole), ``grown``,
    ``stopped`` (out of minutes), ``missing`` (dry run: not yet stored, or short of
    problems) or ``skipped`` (the sitting's minutes ran out before it)."""

    planned: PlannedRun
    state: str
    run_id: str | None = None
    stored: int = 0
    total: int = 0
    new_results: int = 0


def default_open_solver(engine: EngineConfig, config: Any, scorer: str) -> Any:
    """``thinktree eval``'s solver (model loaded in this process)."""
    from thinktree.eval.fanout import FanoutConfig, open_solver

    return open_solver(engine, config, scorer, FanoutConfig())


def model_name(model: str) -> str:
    """The name a stored run records for ``model`` (an embedded alias resolved)."""
    from thinktree.models.registry import find_embedded

    embedded = find_embedded(model)
    return embedded.name if embedded is not None else model


def find_stored(
    store: RunStore, planned: PlannedRun, dataset: str, dataset_hash: str
) -> RunRecord | None:
    """The stored run this planned run would resume, found without loading the model:
    same data set (and hash), model name, scorer, kind and search identity (or one of
    its stored aliases). The fingerprint itself also holds the model file's hash,
    which :class:`Evaluation` checks once the model is loaded."""
    scored = planned.spec.scorer not in ("none", "")
    identities = [run_identity(planned.config, scored=scored)]
    identities += stored_aliases(planned.config, scored=scored)
    name = model_name(planned.spec.model)
    for run in store.list_runs():
        config = run.config
        if (
            run.kind == "eval"
            and run.dataset == dataset
            and config.get("dataset_hash") == dataset_hash
            and run.model == name
            and str(config.get("scorer", "none")).split(":")[0] == planned.spec.scorer.split(":")[0]
            and config.get("search") in identities
        ):
            return run
    return None


def sync_in(store: RunStore, recipe: Recipe, root: Path) -> int:
    """Import the recipe's exports and extra imports (only what the store lacks);
    the number of results added."""
    files: list[Path] = []
    if recipe.exports is not None:
        files += sorted((root / recipe.exports).glob("*.jsonl.gz"))
    files += [root / path for path in recipe.imports]
    added = 0
    for path in files:
        added += import_run(store, path).added
    return added


def export(store: RunStore, recipe: Recipe, root: Path, run_id: str) -> Path | None:
    """Write ``run_id`` to the recipe's exports (none: the recipe keeps no exports)."""
    if recipe.exports is None:
        return None
    # A data file's runs are named by its path: the file name keeps only its last part.
    path = root / recipe.exports / f"{run_id.replace('/', '_')}.jsonl.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    export_run(store, run_id, path)
    return path


def _slice(source: ProblemSource) -> tuple[list[Problem], str, str]:
    return load_problems(source)


def run_recipe(
    recipe: Recipe,
    store: RunStore,
    *,
    root: Path,
    open_solver: OpenSolver = default_open_solver,
    max_minutes: float | None = None,
    dry_run: bool = False,
    clock: Callable[[], float] = time.monotonic,
    say: Callable[[str], None] = print,
) -> list[RunStatus]:
    """Find or grow every run of ``recipe`` in ``store``, in order (see the module doc).

    ``dry_run`` loads no model and changes nothing but the imports: it says which
    runs are stored whole and which would run."""
    added = sync_in(store, recipe, root)
    if added:
        say(f"imported {added} results from the recipe's exports")
    deadline = None if max_minutes is None else clock() + 60 * max_minutes
    out: list[RunStatus] = []
    for planned in recipe.planned():
        problems, dataset, data_hash = _slice(planned.spec.source)
        found = find_stored(store, planned, dataset, data_hash)
        done = store.done_problem_ids(found.id) if found is not None else set()
        stored = sum(p.id in done for p in problems)
        status = RunStatus(planned, "complete", found and found.id, stored, len(problems))
        if stored == len(problems):
            out.append(status)
            continue
        left = None if deadline is None else (deadline - clock()) / 60
        if dry_run or (left is not None and left < 1):
            status.state = "missing" if dry_run else "skipped"
            out.append(status)
            continue
        say(f"{planned.describe()}: {len(problems) - stored} of {len(problems)} to solve")
        out.append(_grow(recipe, store, root, planned, problems, dataset, data_hash,
                         open_solver, left, clock))  # fmt: skip
        if out[-1].state == "stopped":
            break
    return out


def _grow(
    recipe: Recipe,
    store: RunStore,
    root: Path,
    planned: PlannedRun,
    problems: list[Problem],
    dataset: str,
    dataset_hash: str,
    open_solver: OpenSolver,
    minutes: float | None,
    clock: Callable[[], float],
) -> RunStatus:
    from thinktree.search import registry

    spec = planned.spec
    engine = EngineConfig(**{**spec.engine, "model": spec.model})
    if engine.parallel is None:
        engine = engine.model_copy(update={"parallel": registry.default_slots(planned.config)})
    with open_solver(engine, planned.config, spec.scorer) as handle:
        evaluation = Evaluation(
            problems,
            dataset=dataset,
            dataset_hash=dataset_hash,
            solver=handle.solver,
            store=store,
            model_id=handle.model_id,
            scorer_id=handle.scorer_id,
            tokens_per_second=handle.tokens_per_second,
            clock=clock,
        )
        outcome = evaluation.run_all(
            window=registry.default_window(planned.config, engine.parallel or 1),
            max_minutes=minutes,
        )
    if outcome.new_results:
        export(store, recipe, root, outcome.run.id)
    return RunStatus(
        planned,
        "stopped" if outcome.stopped else "grown",
        outcome.run.id,
        len(outcome.rows),
        len(problems),
        outcome.new_results,
    )


def statuses_table(statuses: list[RunStatus]) -> Iterator[str]:
    """One line a run: its state, stored problems and run id."""
    for s in statuses:
        grown = f" (+{s.new_results})" if s.new_results else ""
        yield (
            f"{s.state:9} {s.stored:>4}/{s.total:<4}{grown} {s.run_id or '-':28} "
            f"{s.planned.describe()}"
        )
