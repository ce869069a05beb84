"""Open what an evaluation searches with: this process, or Ray workers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager, redirect_stdout
from dataclasses import dataclass
from typing import Any

from thinktree.api import open_runtime
from thinktree.engines.factory import EngineConfig
from thinktree.eval.fanout.config import FanoutConfig
from thinktree.eval.fanout.dispatch import RaySolver
from thinktree.eval.fanout.session import ray_session
from thinktree.eval.fanout.worker import EngineRecipe, WorkerRecipe
from thinktree.eval.harness import LocalSolver, ProblemSolver
from thinktree.reward.registry import load_scorer
from thinktree.search import SearchConfig


@dataclass(frozen=True)
class SolverHandle:
    """A ready solver and what the run's identity and estimates need from it."""

    solver: ProblemSolver
    model_id: dict[str, Any]
    scorer_id: str
    tokens_per_second: float


@contextmanager
def ray_solver(
    recipe: WorkerRecipe,
    config: SearchConfig,
    fanout: FanoutConfig,
    *,
    threads: int = 0,
    verbose: bool = False,
) -> Iterator[RaySolver]:
    """Ray joined (or started), ``fanout.workers`` workers up; all ended on exit."""
    if fanout.ray is None:
        raise ValueError("the fan-out needs a Ray address (auto or HOST:PORT)")
    with ray_session(fanout.ray, verbose=verbose) as ray:
        solver = RaySolver(ray, recipe, config, fanout, cpus=fanout.cpus(threads))
        try:
            yield solver
        finally:
            solver.close()


@contextmanager
def open_solver(
    engine: EngineConfig,
    config: SearchConfig,
    scorer: str | None,
    fanout: FanoutConfig,
) -> Iterator[SolverHandle]:
    """A solver for ``eval``: the engine in this process, or one per Ray worker.

    Without Ray the scorer is loaded before the model, so a bad ``--scorer`` is
    said before minutes of loading; with Ray every worker loads both itself. Ray
    prints its own notices (a worker that died) on stdout: while the block runs they
    go to stderr, so that stdout stays the command's (``--json``).
    """
    if fanout.ray is not None:
        recipe = EngineRecipe(engine, scorer)
        with (
            redirect_stdout(sys.stderr),
            ray_solver(
                recipe, config, fanout, threads=engine.threads, verbose=engine.verbose
            ) as solver,
        ):
            yield SolverHandle(solver, solver.model_id, solver.scorer_id, solver.tokens_per_second)
        return
    scorer_obj, scorer_id = load_scorer(scorer)
    with closing(scorer_obj), open_runtime(engine) as runtime:
        yield SolverHandle(
            LocalSolver(runtime.context(config, scorer_obj)),
            runtime.model_id(),
            scorer_id,
            runtime.tokens_per_second_guess(),
        )
