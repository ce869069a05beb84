"""``Sandbox``: a pool of warm workers behind ``run`` and ``run_batch``."""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
import warnings
import weakref
from collections.abc import Iterable, Sequence
from concurrent.futures import CancelledError, ThreadPoolExecutor
from typing import Any

from thinktree.sandbox._process import SandboxError, WorkerProcess
from thinktree.sandbox.config import SandboxConfig
from thinktree.sandbox.result import ExecResult

logger = logging.getLogger(__name__)

# The worker enforces the timeout itself; the host waits this much longer
# before declaring the worker hung and killing it.
_HOST_GRACE_SECONDS = 1.0


class SandboxFallbackWarning(RuntimeWarning):
    """An isolation layer is unavailable here and a weaker one stands in for it."""


def _stop_workers(workers: list[WorkerProcess]) -> None:
    for worker in list(workers):
        worker.stop()


class Sandbox:
    """Runs trajectories of untrusted cells in a pool of warm, isolated workers.

    Thread-safe: ``run`` may be called from many threads, ``run_batch`` spreads
    trajectories over the pool. Workers start on first use (or ``start()``);
    ``close()`` kills them and everything they started.
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self._lock = threading.Lock()
        self._idle: queue.Queue[WorkerProcess] = queue.Queue()
        self._workers: list[WorkerProcess] = []
        self._started = False
        self._closed = False
        self._executor: ThreadPoolExecutor | None = None
        self._layers: dict[str, str] = {}
        self._fallbacks: list[str] = []
        self._finalizer = weakref.finalize(self, _stop_workers, self._workers)

    # --- lifecycle ----------------------------------------------------------

    def start(self) -> None:
        """Start every worker and wait until all are warm; a no-op once started."""
        with self._lock:
            if self._closed:
                raise SandboxError("the sandbox is closed")
            if self._started:
                return
            workers = [WorkerProcess(self.config) for _ in range(self.config.workers)]
            try:
                for worker in workers:
                    worker.spawn()
                readies = [worker.wait_ready() for worker in workers]
            except BaseException:
                _stop_workers(workers)
                raise
            self._note_layers(readies[0])
            self._workers.extend(workers)
            for worker in workers:
                self._idle.put(worker)
            self._started = True

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            executor, self._executor = self._executor, None
        _stop_workers(self._workers)
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def layers(self) -> dict[str, str]:
        """Which isolation layer is in force for each concern, as the workers report it."""
        self.start()
        return dict(self._layers)

    @property
    def fallbacks(self) -> list[str]:
        """The layers that fell back here, one line each (empty when none did)."""
        self.start()
        return list(self._fallbacks)

    def _note_layers(self, ready: dict[str, Any]) -> None:
        self._layers = {str(k): str(v) for k, v in ready.get("layers", {}).items()}
        self._fallbacks = [str(line) for line in ready.get("fallbacks", [])]
        if self._fallbacks:
            message = "thinktree sandbox fell back: " + "; ".join(self._fallbacks)
            logger.debug(message)
            warnings.warn(message, SandboxFallbackWarning, stacklevel=4)

    # --- running ------------------------------------------------------------

    def run(self, cells: Sequence[str], timeout: float | None = None) -> ExecResult:
        """Run the cells of one trajectory in order, in one fresh process.

        ``timeout`` (default ``config.timeout``) limits the whole execution, all
        cells together.

        Returns the last cell's output and error (see ``ExecResult``). Never
        raises for anything the code does; raises ``SandboxError`` only when the
        sandbox itself cannot run (closed, or a worker cannot start).
        """
        cells = _checked_cells(cells)
        timeout = self._checked_timeout(timeout)
        self.start()
        for attempt in (1, 2):
            worker = self._acquire()
            try:
                result = self._execute(worker, cells, timeout)
            finally:
                self._release(worker)
            # A worker found dead mid-call most likely died before the job (killed
            # from outside, out of memory): the code has no side effects outside
            # the sandbox, so running it once more on a fresh worker is safe.
            if result is not None:
                return result
            if attempt == 2 or self._closed:
                break
        return ExecResult(
            stdout="",
            error="SandboxError: the sandbox worker died twice running this code",
            timed_out=False,
            seconds=0.0,
        )

    def run_batch(
        self, trajectories: Iterable[Sequence[str]], timeout: float | None = None
    ) -> list[ExecResult]:
        """Run independent trajectories concurrently across the pool; results in order."""
        batch = [_checked_cells(cells) for cells in trajectories]
        if not batch:
            return []
        self.start()
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.config.workers, thread_name_prefix="thinktree-sandbox"
                )
            executor = self._executor
        try:
            futures = [executor.submit(self.run, cells, timeout) for cells in batch]
            return [future.result() for future in futures]
        except (CancelledError, RuntimeError) as exc:  # closed while the batch ran
            if self._closed:
                raise SandboxError("the sandbox was closed during the batch") from exc
            raise

    def _checked_timeout(self, timeout: float | None) -> float:
        timeout = self.config.timeout if timeout is None else float(timeout)
        if not (timeout > 0 and math.isfinite(timeout)):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        return timeout

    def _acquire(self) -> WorkerProcess:
        while True:
            if self._closed:
                raise SandboxError("the sandbox is closed")
            try:
                return self._idle.get(timeout=0.2)
            except queue.Empty:
                continue

    def _release(self, worker: WorkerProcess) -> None:
        if not worker.dead:
            self._idle.put(worker)
            return
        worker.kill()
        with self._lock:
            if self._closed:
                return
            replacement = WorkerProcess(self.config)
            self._workers[self._workers.index(worker)] = replacement
            try:
                replacement.spawn()  # warms up while the pool serves other calls
            except SandboxError as exc:
                logger.error("could not respawn a sandbox worker: %s", exc)
                replacement.dead = True
        self._idle.put(replacement)

    def _execute(
        self, worker: WorkerProcess, cells: list[str], timeout: float
    ) -> ExecResult | None:
        """Run on ``worker``; ``None`` when the worker died (not hung) during the call."""
        if worker.dead or not worker.alive():  # died while idle, or its respawn failed
            worker.kill()
            worker.reset()
            worker.spawn()
        worker.wait_ready()
        request = {
            "op": "run",
            "cells": cells,
            "timeout": timeout,
            "cpu_seconds": self.config.cpu_limit(timeout),
        }
        started = time.perf_counter()
        reply = worker.execute(request, timeout + _HOST_GRACE_SECONDS)
        seconds = time.perf_counter() - started
        if reply is None:
            worker.kill()
            if self._closed:
                error = "SandboxError: the sandbox was closed during the execution"
                return ExecResult(stdout="", error=error, timed_out=False, seconds=seconds)
            if seconds < timeout:
                return None
            error = f"TimeoutError: the code ran longer than the {timeout:g} s time limit"
            return ExecResult(stdout="", error=error, timed_out=True, seconds=seconds)
        return ExecResult(
            stdout=str(reply["stdout"]),
            stderr=str(reply["stderr"]),
            error=reply["error"],
            timed_out=bool(reply["timed_out"]),
            seconds=seconds,
            truncated=bool(reply["truncated"]),
            failed_cell=reply["failed_cell"],
            earlier_errors=tuple((int(i), str(e)) for i, e in reply["earlier_errors"]),
        )


def _checked_cells(cells: Sequence[str]) -> list[str]:
    if isinstance(cells, str):
        raise TypeError("cells must be a list of strings, not one string")
    cells = list(cells)
    for cell in cells:
        if not isinstance(cell, str):
            raise TypeError(f"every cell must be a string, got {type(cell).__name__}")
    return cells
