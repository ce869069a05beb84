"""The search stages' machinery: where they search (this process or Ray workers) and
one stored evaluation run to the end (or resumed) as a stage of a round."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from typing import Any

from thinktree.api import Runtime, open_runtime
from thinktree.engines.factory import EngineConfig
from thinktree.eval.fanout import (
    EngineRecipe,
    SolverHandle,
    WorkerRecipe,
    import_ray,
    ray_solver,
)
from thinktree.eval.harness import Evaluation, LocalSolver
from thinktree.problems import Problem
from thinktree.reward.base import NullScorer, Scorer
from thinktree.reward.registry import load_scorer, spec_is_scored
from thinktree.search import SearchConfig
from thinktree.search.registry import default_slots, default_window, resolved
from thinktree.store import ResultRow
from thinktree.train.evolve.config import EvolveConfig
from thinktree.train.evolve.context import EvolveStopped, RoundContext

RuntimeOpener = Callable[[str, SearchConfig], Runtime]
RecipeMaker = Callable[[str, SearchConfig, str | None], WorkerRecipe]
"""What a Ray worker builds for a search stage: (model spec, search, scorer spec)."""


class EngineSearcher:
    """The default searcher: llama.cpp in this process, or Ray workers (``fanout``)."""

    def __init__(
        self,
        config: EvolveConfig,
        runtime_opener: RuntimeOpener | None = None,
        worker_recipe: RecipeMaker | None = None,
    ) -> None:
        self.config = config
        self.open_runtime = runtime_opener or self._default_runtime
        self.worker_recipe = worker_recipe or self._default_recipe
        if config.fanout.enabled:
            import_ray()  # said now, not after hours of training

    def _engine_config(self, spec: str, search: SearchConfig) -> EngineConfig:
        engine = self.config.engine
        slots = engine.parallel or default_slots(search)
        return EngineConfig(model=spec, parallel=slots, threads=engine.threads)

    def _default_runtime(self, spec: str, search: SearchConfig) -> Runtime:
        return open_runtime(self._engine_config(spec, search))

    def _default_recipe(
        self, spec: str, search: SearchConfig, scorer_spec: str | None
    ) -> WorkerRecipe:
        return EngineRecipe(self._engine_config(spec, search), scorer_spec)

    @contextmanager
    def __call__(
        self, spec: str, search: SearchConfig, scorer_spec: str | None
    ) -> Iterator[SolverHandle]:
        fanout = self.config.fanout
        if fanout.enabled:
            recipe = self.worker_recipe(spec, search, scorer_spec)
            threads = self.config.engine.threads
            with ray_solver(recipe, search, fanout, threads=threads) as solver:
                yield SolverHandle(
                    solver, solver.model_id, solver.scorer_id, solver.tokens_per_second
                )
            return
        scorer: Scorer
        scorer, scorer_id = load_scorer(scorer_spec) if scorer_spec else (NullScorer(), "none")
        with closing(scorer), self.open_runtime(spec, search) as runtime:
            yield SolverHandle(
                LocalSolver(runtime.context(search, scorer)),
                runtime.model_id(),
                scorer_id,
                runtime.tokens_per_second_guess(),
            )


def evaluate_stage(
    context: RoundContext,
    stage: str,
    problems: Sequence[Problem],
    dataset: str,
    data_hash: str,
    model_spec: str,
    search: SearchConfig,
    scorer_spec: str | None,
    adopt: str | None = None,
) -> dict[str, Any]:
    """Run (or resume) one stored evaluation; its figures once it is whole.

    The run's id is recorded in the ledger's data (``<stage>_run``) as soon as it
    exists, so a resumed sitting grows the same run. Raises EvolveStopped when the
    time budget stops it first."""
    evolve, ledger = context.evolve, context.ledger
    engine = evolve.config.engine
    search = resolved(search, scored=spec_is_scored(scorer_spec))
    evolve.reporter.stage(context.index, stage, len(problems))
    with evolve.searcher(model_spec, search, scorer_spec) as searcher:
        run_id = adopt or ledger.data["data"].get(f"{stage}_run")
        evaluation = Evaluation(
            problems,
            dataset=dataset,
            dataset_hash=data_hash,
            solver=searcher.solver,
            store=evolve.store,
            model_id=searcher.model_id,
            scorer_id=searcher.scorer_id,
            run_id=run_id,
            tokens_per_second=searcher.tokens_per_second,
            clock=evolve.budget.clock,
        )
        ledger.record_data(f"{stage}_run", evaluation.run.id)
        done = evaluation.plan().done
        evolve.reporter.advance(done, len(problems))

        def on_result(row: ResultRow) -> None:
            nonlocal done
            done += 1
            evolve.reporter.advance(done, len(problems))

        slots = engine.parallel or default_slots(search)
        outcome = evaluation.run_all(
            window=engine.window or default_window(search, slots),
            max_minutes=evolve.budget.minutes_left(),
            on_result=on_result,
        )
    if outcome.stopped:
        raise EvolveStopped(f"round {context.index} {stage} stopped at the time budget")
    summary = outcome.summary
    answered = sum(1 for r in outcome.rows if r.answer is not None)
    return {
        "run_id": outcome.run.id,
        "n": summary["graded"],
        "accuracy": summary["accuracy"],
        "in_format": answered / len(outcome.rows) if outcome.rows else None,
        "tokens_per_problem": summary["tokens_per_problem"],
        "seconds_per_problem": summary["seconds_per_problem"],
    }
