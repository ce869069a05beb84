"""One chat request's search, run on a worker thread, watched from the event loop.

:class:`SolveJob` starts :func:`thinktree.search.run_search` on the executor and
turns its rounds into progress events on an asyncio queue. :meth:`SolveJob.events`
yields them until the search ends; when the client is gone (``gone()``) or the
consumer stops listening, the search's ``stop`` flag is set and it ends at the
next round boundary, dropping its unfinished result (nothing is stored). The
job's slot is released when the thread ends (``on_done``), whoever is waiting.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from thinktree.api import Runtime
from thinktree.problems import Problem
from thinktree.search import SolveResult, run_search
from thinktree.search.base import ProblemSearch
from thinktree.server.recorder import Recorder
from thinktree.server.request import ChatRequest
from thinktree.store import StoreError

log = logging.getLogger(__name__)


@dataclass
class Solved:
    """A finished solve and where it was stored (``run_id`` None: not stored)."""

    result: SolveResult
    run_id: str | None


@dataclass
class Progress:
    """One finished round of the search."""

    round: int
    figures: dict[str, Any]
    step: dict[str, Any] | None = None
    """The step greedy search just added (other strategies: None)."""


class SolveJob:
    def __init__(
        self,
        request: ChatRequest,
        problem_id: str,
        runtime: Runtime,
        scorer: tuple[Any, str],
        recorder: Recorder | None,
    ) -> None:
        self.request = request
        self.problem = Problem(id=problem_id, question=request.question)
        self.runtime = runtime
        self.scorer, self.scorer_id = scorer
        self.recorder = recorder
        self.stop = threading.Event()
        self._rounds = 0
        self._steps_sent = 0

    def start(
        self, executor: Executor, on_done: Callable[[], None]
    ) -> asyncio.Future[Solved | None]:
        """Run the search on ``executor``; ``on_done`` runs on the loop when the thread ends."""
        loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Progress] = asyncio.Queue()

        def on_round(active: list[ProblemSearch]) -> None:
            for event in self._progress(active):
                loop.call_soon_threadsafe(self._queue.put_nowait, event)

        self.future = loop.run_in_executor(executor, self._run, on_round)
        self.future.add_done_callback(lambda _: on_done())
        return self.future

    def _progress(self, active: list[ProblemSearch]) -> list[Progress]:
        if not active:
            return []
        self._rounds += 1
        search = active[0]
        figures = search.progress()
        steps = getattr(search, "steps", None) or []
        new = [s.to_dict() for s in steps[self._steps_sent :]]
        self._steps_sent = len(steps)
        if not new:
            return [Progress(self._rounds, figures)]
        return [Progress(self._rounds, figures, step) for step in new]

    def _run(self, on_round: Callable[[list[ProblemSearch]], None]) -> Solved | None:
        ctx = self.runtime.context(self.request.config, self.scorer)
        results = run_search(
            [self.problem], ctx, window=1, on_round=on_round, stop=self.stop.is_set
        )
        if not results:
            return None
        result = results[0]
        run_id = None
        if self.recorder is not None:
            try:
                run_id = self.recorder.record(
                    result, self.problem, ctx.config, self.scorer_id, ctx.judge
                )
            except (StoreError, sqlite3.Error, OSError) as exc:
                # The answer is still worth sending; the response says it was not stored.
                log.error("storing %s failed: %s", self.problem.id, exc)
        return Solved(result, run_id)

    async def events(
        self, gone: Callable[[], Awaitable[bool]], poll: float = 0.05
    ) -> AsyncIterator[Progress]:
        """Progress until the search ends; stops the search if ``gone()`` or if abandoned."""
        try:
            while not self.future.done() or not self._queue.empty():
                try:
                    yield await asyncio.wait_for(self._queue.get(), timeout=poll)
                    continue
                except TimeoutError:
                    pass
                if await gone():
                    self.stop.set()
                    return
        finally:
            if not self.future.done():
                self.stop.set()
