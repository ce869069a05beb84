"""One Ray worker: its own engine, sandbox pool, grader and scorer, fed problem by problem.

The driver calls :meth:`SearchWorker.solve` once per problem, keeping up to
``window + 1`` calls open per worker. Inside, one thread runs the ordinary
lock-step search (:func:`thinktree.search.run_search`) over a
:class:`ProblemQueue`, so problems join the batch as slots free up exactly as in
one process; each call returns its problem's row, graded here, as soon as that
problem is done. Nothing here touches the run store.

This module does not import Ray: the driver (:mod:`.dispatch`) makes the class an
actor. A failure to build the worker (a model that will not load) and a failure
of the search (an engine error) come back from every call as the original
exception, so the driver can report it in one line; only a worker *process*
that dies is retried elsewhere.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

from thinktree.api import Runtime, open_runtime
from thinktree.engines.factory import EngineConfig
from thinktree.eval.harness import SolvedProblem, result_row
from thinktree.problems import Problem
from thinktree.reward.base import Scorer, is_scored
from thinktree.reward.registry import load_scorer
from thinktree.search import SearchConfig, SolveResult, run_search


@dataclass
class WorkerKit:
    """What a worker searches with; it owns (and closes) all of it."""

    runtime: Runtime
    scorer: Scorer
    scorer_id: str

    def close(self) -> None:
        try:
            self.scorer.close()
        finally:
            self.runtime.close()


class WorkerRecipe(Protocol):
    """How a worker builds its kit, in its own process (so it must pickle)."""

    def open(self) -> WorkerKit: ...


@dataclass(frozen=True)
class EngineRecipe:
    """A worker's kit from an engine config and a scorer spec (``none``, ``ppm:DIR``...)."""

    engine: EngineConfig
    scorer: str | None = None
    sandbox_workers: int = 2

    def open(self) -> WorkerKit:
        scorer, scorer_id = load_scorer(self.scorer)
        try:
            runtime = open_runtime(self.engine, sandbox_workers=self.sandbox_workers)
        except BaseException:
            scorer.close()
            raise
        return WorkerKit(runtime, scorer, scorer_id)


@dataclass(frozen=True)
class WorkerIdentity:
    """What a worker searches with (must agree across workers) and where it runs."""

    model_id: dict[str, Any]
    scorer_id: str
    scored: bool
    tokens_per_second: float
    host: str
    pid: int

    def search_key(self) -> tuple[str, str, bool]:
        """The part that decides results: workers of one run must all share it."""
        return (repr(sorted(self.model_id.items())), self.scorer_id, self.scored)


class ProblemQueue:
    """A thread-safe :class:`thinktree.search.driver.ProblemFeed` that calls fill."""

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._items: deque[Problem] = deque()
        self._closed = False

    def put(self, problem: Problem) -> None:
        with self._ready:
            self._items.append(problem)
            self._ready.notify()

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def take(self, n: int, *, wait: bool) -> list[Problem] | None:
        with self._ready:
            while wait and not self._items and not self._closed:
                self._ready.wait()
            if not self._items:
                return None if self._closed else []
            return [self._items.popleft() for _ in range(min(n, len(self._items)))]


class SearchWorker:
    """The state of one Ray actor (see the module notes)."""

    def __init__(self, recipe: WorkerRecipe, config: SearchConfig) -> None:
        self._config = config
        self._queue = ProblemQueue()
        self._lock = threading.Lock()
        self._waiting: dict[str, tuple[int, Problem, Future[SolvedProblem | None]]] = {}
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._kit: WorkerKit | None = None
        self._error: BaseException | None = None
        try:
            self._kit = recipe.open()
            self._ctx = self._kit.runtime.context(config, self._kit.scorer)
        except Exception as exc:  # reported by every call, as the original exception
            self._error = exc

    async def identity(self) -> WorkerIdentity:
        if self._error is not None or self._kit is None:
            raise self._error or RuntimeError("the worker has no engine")
        runtime = self._kit.runtime
        return WorkerIdentity(
            model_id=runtime.model_id(),
            scorer_id=self._kit.scorer_id,
            scored=is_scored(self._kit.scorer),
            tokens_per_second=runtime.tokens_per_second_guess(),
            host=socket.gethostname(),
            pid=os.getpid(),
        )

    async def solve(self, position: int, problem: Problem, window: int) -> SolvedProblem | None:
        """``problem``'s row (and tree) once its search is done, at ``position``; None
        when the worker is closed first (a stopped run drops its searches in flight,
        and a dropped call must not leave an unread error for Ray to print)."""
        return await asyncio.wrap_future(self._submit(position, problem, window))

    async def close(self) -> None:
        """Drop the searches in flight (after the current round), close the kit."""
        self._closing.set()
        self._queue.close()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        if self._kit is not None:
            self._kit.close()
            self._kit = None

    # -- inside the worker ---------------------------------------------------------------

    def _submit(self, position: int, problem: Problem, window: int) -> Future[SolvedProblem | None]:
        future: Future[SolvedProblem | None] = Future()
        with self._lock:
            if self._error is not None:
                future.set_exception(self._error)
                return future
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._search, args=(window,), name="search", daemon=True
                )
                self._thread.start()
            self._waiting[problem.id] = (position, problem, future)
        self._queue.put(problem)
        return future

    def _search(self, window: int) -> None:
        try:
            run_search(
                self._queue,
                self._ctx,
                window=window,
                on_result=self._deliver,
                stop=self._closing.is_set,
            )
        except BaseException as exc:
            for future in self._take_waiting(exc):
                future.set_exception(exc)
        else:  # closed: the searches in flight were dropped, and their calls answer None
            for future in self._take_waiting(RuntimeError("the worker was closed")):
                future.set_result(None)

    def _take_waiting(self, error: BaseException) -> list[Future[SolvedProblem | None]]:
        """Every open call's future; later calls fail with ``error``."""
        with self._lock:
            self._error = error
            waiting = [future for _, _, future in self._waiting.values()]
            self._waiting.clear()
        return waiting

    def _deliver(self, result: SolveResult) -> None:
        with self._lock:
            position, problem, future = self._waiting.pop(result.problem_id)
        try:
            row = result_row(result, problem, position, self._ctx.judge)
        except BaseException as exc:  # the grader failed: this call fails, then the rest
            future.set_exception(exc)
            raise
        future.set_result(SolvedProblem(row, result.tree))
