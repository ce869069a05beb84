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

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thinktree.engines.factory import EngineConfig
from thinktree.eval.bench.recipe import PlannedRun, Recipe
from thinktree.eval.fanout.backend import SolverHandle
from thinktree.eval.harness import Evaluation
from thinktree.problems import Problem, ProblemSource, load_problems
from thinktree.search.identity import run_identity, stored_aliases
from thinktree.store import ResultRow, RunRecord, RunStore
from thinktree.store.transfer import export_run, import_run

# Opens a solver for one run: (engine config, search config, scorer) -> handle.
OpenSolver = Callable[[EngineConfig, Any, str], AbstractContextManager[SolverHandle]]
# Rescores a stored sampling run: (store, run id, scorer spec, selection rule) -> the
# best_of_n run's id.
Rescorer = Callable[[RunStore, str, str, str], str]
# What watches a growing run: (its description, problems to solve) -> a context giving
# the callback each new result is passed to.
Watch = Callable[[str, int], AbstractContextManager[Callable[[ResultRow], None]]]


@contextmanager
def no_watch(description: str, total: int) -> Iterator[Callable[[ResultRow], None]]:
    yield lambda row: None


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


def default_rescorer(store: RunStore, run_id: str, scorer: str, select: str) -> str:
    """``thinktree rescore --select``: the scorer picks among the run's samples by the
    rule (resumable)."""
    from contextlib import closing

    from thinktree.eval.rescore import rescore
    from thinktree.grading import Grader
    from thinktree.reward.base import step_scorer
    from thinktree.reward.registry import load_scorer
    from thinktree.search.judge import GraderJudge

    scorer_obj, scorer_id = load_scorer(scorer)
    step = step_scorer(scorer_obj)
    if step is None:
        raise ValueError(f"rescoring needs a learned scorer (ppm:DIR), not {scorer!r}")
    with closing(scorer_obj), Grader(workers=1) as grader:
        return rescore(store, run_id, step, scorer_id, GraderJudge(grader), select=select).id


def rescore_all(
    store: RunStore,
    recipe: Recipe,
    root: Path,
    planned: PlannedRun,
    run_id: str,
    rescorer: Rescorer,
) -> None:
    """Rescore the sampling run ``run_id`` by each of the planned run's rules and export
    what grew; a rule whose run already holds every problem loads no scorer."""
    spec = planned.spec
    if spec.rescore is None:
        return
    source = store.get_run(run_id)
    wanted = store.done_problem_ids(run_id)
    for rule in spec.rescore_select:
        if wanted <= rescored_problems(store, source, spec.rescore, rule):
            continue
        export(store, recipe, root, rescorer(store, run_id, spec.rescore, rule))


def rescored_problems(store: RunStore, source: RunRecord, scorer: str, rule: str) -> set[str]:
    """The problems the rescoring of ``source`` by ``scorer`` (ppm:DIR) under ``rule``
    holds; none where the scorer's identity cannot be read (rescoring then says why)."""
    from thinktree.eval.rescore import find_rescored
    from thinktree.reward.ppm_dir import PPMError
    from thinktree.reward.registry import ppm_spec_identity

    try:
        identity = ppm_spec_identity(scorer)
    except (PPMError, OSError, ValueError):
        return set()
    run = find_rescored(store, source, identity, rule)
    return set() if run is None else store.done_problem_ids(run.id)


def model_name(model: str) -> str:
    """The name a stored run of ``model`` records: the resolved model's. ``default`` is
    the base file's name until an evolved 1.5B ships as ``default``, then ``default``,
    so a recipe measuring the untouched 1.5B says ``base``. A model that resolves to
    nothing here keeps its spec (no stored run is found for it)."""
    from thinktree.models import ModelError
    from thinktree.models.resolve import resolved_name

    try:
        return resolved_name(model)
    except ModelError:
        return model


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
    scorer = stored_scorer(planned.spec.scorer)
    if scorer is None:
        return None
    for run in store.list_runs():
        config = run.config
        if (
            run.kind == "eval"
            and run.dataset == dataset
            and config.get("dataset_hash") == dataset_hash
            and run.model == name
            and scorer(str(config.get("scorer", "none")))
            and config.get("search") in identities
        ):
            return run
    return None


def stored_scorer(spec: str) -> Callable[[str], bool] | None:
    """Whether a stored run's scorer id is ``spec``'s: a learned scorer (``ppm:DIR``) by
    its identity (the PPM's file hash, so a PPM retrained in the same directory is
    another scorer), any other by its name. None where the PPM cannot be read here (no
    stored run is then its run)."""
    from thinktree.reward.ppm_dir import PPMError
    from thinktree.reward.registry import ppm_spec_identity, scorer_entry

    name = spec.split(":")[0] or "none"
    if name == "ppm":
        try:
            identity = ppm_spec_identity(spec)
        except (PPMError, OSError, ValueError):
            return None
        return lambda stored: stored == identity
    scorer_entry(spec)  # an unknown scorer: the registry's one-line error
    return lambda stored: stored.split(":")[0] == name


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


def export_all(store: RunStore, recipe: Recipe, root: Path) -> list[Path]:
    """Write every run of ``store`` to the recipe's exports (safe while a search writes:
    SQLite's WAL; a result stored meanwhile appears in the next export)."""
    return [p for run in store.list_runs() if (p := export(store, recipe, root, run.id))]


def restore_ledgers(recipe: Recipe, root: Path) -> list[str]:
    """Copy the evolve run's round ledgers (its own, then those it adopts) to
    OUT/round-N/manifest.json where this machine lacks them; the rounds restored."""
    spec = recipe.evolve
    if spec is None:
        return []
    sources = {path.stem: path for path in sorted((root / spec.ledgers).glob("round-*.json"))}
    sources.update({name: root / path for name, path in spec.base_ledgers.items()})
    restored = []
    for name, source in sorted(sources.items()):
        target = root / spec.out / name / "manifest.json"
        if source.is_file() and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            restored.append(name)
    return restored


def save_ledgers(recipe: Recipe, root: Path) -> list[Path]:
    """Copy each round's ledger (OUT/round-N/manifest.json) to the recipe's ledgers,
    but for the rounds it adopts from another run."""
    spec = recipe.evolve
    if spec is None:
        return []
    saved = []
    for manifest in sorted((root / spec.out).glob("round-*/manifest.json")):
        name = manifest.parent.name
        if name in spec.base_ledgers:
            continue
        target = root / spec.ledgers / f"{name}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(manifest, target)
        saved.append(target)
    return saved


def _slice(source: ProblemSource) -> tuple[list[Problem], str, str]:
    return load_problems(source)


def run_recipe(
    recipe: Recipe,
    store: RunStore,
    *,
    root: Path,
    open_solver: OpenSolver = default_open_solver,
    rescorer: Rescorer = default_rescorer,
    max_minutes: float | None = None,
    dry_run: bool = False,
    clock: Callable[[], float] = time.monotonic,
    say: Callable[[str], None] = print,
    watch: Watch = no_watch,
) -> list[RunStatus]:
    """Find or grow every run of ``recipe`` in ``store``, in order (see the module doc);
    a run stored whole that names a ``rescore`` scorer is then rescored by each of its
    ``rescore_select`` rules (resumed like any run) and each best_of_n run exported.

    ``dry_run`` loads no model and changes nothing but the imports: it says which
    runs are stored whole and which would run. ``watch(description, to_solve)`` gives
    the callback each new result of a growing run is passed to (progress)."""
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
            if found is not None and not dry_run:
                rescore_all(store, recipe, root, planned, found.id, rescorer)
            continue
        left = None if deadline is None else (deadline - clock()) / 60
        if dry_run or (left is not None and left < 1):
            status.state = "missing" if dry_run else "skipped"
            out.append(status)
            continue
        say(f"{planned.describe()}: {len(problems) - stored} of {len(problems)} to solve")
        with watch(planned.describe(), len(problems) - stored) as on_result:
            out.append(_grow(recipe, store, root, planned, problems, dataset, data_hash,
                             open_solver, left, clock, on_result))  # fmt: skip
        if out[-1].state == "stopped":
            break
        if out[-1].state == "grown":
            rescore_all(store, recipe, root, planned, str(out[-1].run_id), rescorer)
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
    on_result: Callable[[ResultRow], None],
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
            on_result=on_result,
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
