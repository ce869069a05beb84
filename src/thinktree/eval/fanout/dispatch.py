"""The Ray fan-out's driver side: problems out to N workers, rows back, dead workers replaced.

Scheduling: one queue of problems in the evaluation's order. Each worker holds
at most ``window + 1`` of them (its lock-step window and one waiting, so a
finished problem's slot refills at once); whenever a row comes back, the worker
that sent it is given the next problem. Rows stream back one by one and go to
``on_solved``, i.e. to the run store, which only the driver writes.

Retries: a worker whose process dies (killed, out of memory, a crash in native
code) fails every call it held, and is replaced by a fresh actor (a new
engine). Which of its problems killed it is unknown, so each goes back to the
front of the queue to be retried *alone*: on a worker other than the one it
died on (when there are several), which first finishes what it holds and takes
nothing else meanwhile. A problem that kills its worker again is then known to
be the cause; one tried ``max_attempts`` times is stored as failed
(:mod:`thinktree.eval.failed`) with the last reason. Problems that merely
shared a worker with it are retried once and stored as usual. An error
*raised* by a worker (a model that will not load, an engine error, a grader
error) is not retried: it ends the evaluation as it would in one process, with
every finished problem stored.

Results do not depend on how problems are spread: a problem's sampling seeds
derive from (run seed, problem id, node path) alone (:mod:`thinktree.search.seeds`),
its search never sees another problem's, and it is graded in its worker with the
same rules. What can differ is what an engine's prefix cache had seen (cached vs
evaluated prompt tokens) and timings.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from thinktree.eval.failed import failed_row
from thinktree.eval.fanout.config import FanoutConfig
from thinktree.eval.fanout.session import RayUnavailableError
from thinktree.eval.fanout.worker import SearchWorker, WorkerIdentity, WorkerRecipe
from thinktree.eval.harness import SolvedProblem, SolveHooks
from thinktree.problems import Problem
from thinktree.search import SearchConfig
from thinktree.search.registry import resolved

POLL_SECONDS = 1.0
"""How often the driver looks at ``stop()`` while no row arrives."""
CLOSE_SECONDS = 30.0
"""How long workers get to close their engines before they are killed."""


class WorkerMismatchError(ValueError):
    """Workers of one run would search with different models or scorers."""


@dataclass
class _Job:
    position: int
    problem: Problem
    attempts: int = 0
    last_worker: int | None = None
    reason: str = ""


@dataclass
class _Worker:
    index: int
    actor: Any
    generation: int = 0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else 'no message'}"


class RaySolver:
    """A :class:`thinktree.eval.harness.ProblemSolver` over Ray actors (see the module notes).

    Starting it starts ``fanout.workers`` actors, each building its own kit from
    ``recipe`` (engine, sandbox pool, grader, scorer), and checks that they all
    search with the same model and scorer. ``ray`` must be connected already
    (:func:`thinktree.eval.fanout.session.ray_session`).
    """

    def __init__(
        self,
        ray: ModuleType,
        recipe: WorkerRecipe,
        config: SearchConfig,
        fanout: FanoutConfig,
        *,
        cpus: float = 1.0,
    ) -> None:
        self._ray = ray
        self._recipe = recipe
        self._config = config
        self._fanout = fanout
        self._actor_class = ray.remote(SearchWorker).options(
            num_cpus=cpus, max_restarts=0, max_task_retries=0
        )
        self._workers: list[_Worker] = []
        self.deaths = 0
        """Worker processes lost so far (each one replaced)."""
        try:
            self._workers = [_Worker(i, self._spawn()) for i in range(fanout.workers)]
            self.identities: list[WorkerIdentity] = [
                self._fetch(w.actor.identity.remote(), starting=True) for w in self._workers
            ]
            keys = {identity.search_key() for identity in self.identities}
            if len(keys) > 1:
                hosts = ", ".join(f"{i.host}: {i.model_id.get('name')}" for i in self.identities)
                raise WorkerMismatchError(
                    f"the Ray workers would search with different models or scorers ({hosts});"
                    " install the same thinktree and models on every node"
                )
        except BaseException:
            self.close()
            raise

    # -- what the evaluation asks ----------------------------------------------------------

    @property
    def config(self) -> SearchConfig:
        return resolved(self._config, self.scored)

    @property
    def scored(self) -> bool:
        return self.identities[0].scored

    @property
    def model_id(self) -> dict[str, Any]:
        return self.identities[0].model_id

    @property
    def scorer_id(self) -> str:
        return self.identities[0].scorer_id

    @property
    def tokens_per_second(self) -> float:
        """Aggregate generation speed to expect over all workers (estimates only)."""
        return sum(identity.tokens_per_second for identity in self.identities)

    @property
    def actors(self) -> list[Any]:
        """The live actor handles, worker by worker (for monitoring and tests)."""
        return [w.actor for w in self._workers]

    # -- searching -------------------------------------------------------------------------

    def solve(self, todo: Sequence[tuple[int, Problem]], window: int, hooks: SolveHooks) -> None:
        """Solve ``todo`` on the workers; ``hooks.on_round`` is not called (rounds run remotely)."""
        ray = self._ray
        queue = deque(_Job(position, problem) for position, problem in todo)
        flight: dict[Any, tuple[int, int, _Job]] = {}
        checks: dict[Any, int] = {}
        while queue or flight:
            if hooks.stopped():
                return
            self._fill(queue, flight, window)
            ready, _ = ray.wait([*flight, *checks], num_returns=1, timeout=POLL_SECONDS)
            for ref in ready:
                if ref in checks:
                    self._check_replacement(ref, checks.pop(ref))
                    continue
                index, generation, job = flight.pop(ref)
                try:
                    solved = self._fetch(ref)
                except ray.exceptions.RayActorError as exc:
                    self._lost(index, generation, checks)
                    self._retry(job, index, exc, queue, hooks.on_solved)
                    continue
                if solved is None:  # only a worker closed under a running solve answers None
                    raise RuntimeError(f"Ray worker {index} was closed during the run")
                hooks.on_solved(solved)

    def _fill(
        self, queue: deque[_Job], flight: dict[Any, tuple[int, int, _Job]], window: int
    ) -> None:
        limit = max(1, window) + 1
        for worker in self._workers:
            held = [
                job for i, g, job in flight.values() if i == worker.index and g == worker.generation
            ]
            if any(job.attempts for job in held):
                continue  # a retried problem runs alone
            if any(job.attempts and self._may_take(job, worker.index) for job in queue):
                if not held:  # drained: take the retried problem, alone
                    self._send(
                        worker, self._take(queue, worker.index, retried=True), window, flight
                    )
                continue
            for _ in range(limit - len(held)):
                job = self._take(queue, worker.index, retried=False)
                if job is None:
                    break
                self._send(worker, job, window, flight)

    def _may_take(self, job: _Job, worker: int) -> bool:
        """Not a problem that died on this worker, unless there is no other worker."""
        return job.last_worker != worker or len(self._workers) == 1

    def _take(self, queue: deque[_Job], worker: int, *, retried: bool) -> _Job | None:
        for i, job in enumerate(queue):
            if bool(job.attempts) == retried and self._may_take(job, worker):
                del queue[i]
                return job
        return None

    def _send(
        self,
        worker: _Worker,
        job: _Job | None,
        window: int,
        flight: dict[Any, tuple[int, int, _Job]],
    ) -> None:
        if job is not None:
            ref = worker.actor.solve.remote(job.position, job.problem, window)
            flight[ref] = (worker.index, worker.generation, job)

    def _retry(
        self,
        job: _Job,
        worker: int,
        exc: BaseException,
        queue: deque[_Job],
        on_solved: Callable[[SolvedProblem], None],
    ) -> None:
        job.attempts += 1
        job.last_worker = worker
        job.reason = f"Ray worker {worker} died: {_first_line(exc)}"
        if job.attempts >= self._fanout.max_attempts:
            row = failed_row(job.problem, job.position, job.reason, job.attempts)
            on_solved(SolvedProblem(row))
        else:
            queue.appendleft(job)

    def _lost(self, index: int, generation: int, checks: dict[Any, int]) -> None:
        """Replace worker ``index`` if the call that failed was to its current actor."""
        worker = self._workers[index]
        if worker.generation != generation:
            return
        self.deaths += 1
        self._kill(worker.actor)
        worker.actor = self._spawn()
        worker.generation += 1
        checks[worker.actor.identity.remote()] = index

    def _check_replacement(self, ref: Any, index: int) -> None:
        try:
            identity: WorkerIdentity = self._fetch(ref)
        except self._ray.exceptions.RayActorError:
            return  # it died too; its calls report that and it is replaced again
        if identity.search_key() != self.identities[0].search_key():
            raise WorkerMismatchError(
                f"Ray worker {index}'s replacement on {identity.host} would search with "
                f"{identity.model_id.get('name')}, not {self.model_id.get('name')}; install the "
                "same thinktree and models on every node"
            )

    # -- actors ----------------------------------------------------------------------------

    def _spawn(self) -> Any:
        return self._actor_class.remote(self._recipe, self._config)

    def _fetch(self, ref: Any, *, starting: bool = False) -> Any:
        """``ray.get``, with an error raised in a worker re-raised as itself."""
        ray = self._ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, Exception):
                raise cause from None
            raise
        except ray.exceptions.RayActorError as exc:
            if starting:
                raise RayUnavailableError(
                    f"a Ray worker died while starting: {_first_line(exc)}"
                ) from exc
            raise

    def _kill(self, actor: Any) -> None:
        with suppress(Exception):  # already gone
            self._ray.kill(actor, no_restart=True)

    def close(self) -> None:
        """Let every worker close its engine (briefly), then end the actors."""
        ray = self._ray
        closing = [worker.actor.close.remote() for worker in self._workers]
        if closing:
            ray.wait(closing, num_returns=len(closing), timeout=CLOSE_SECONDS)
        for worker in self._workers:
            self._kill(worker.actor)
        self._workers = []
