"""The grading pipeline end to end: extract -> normalise -> compare, with deadlines.

:class:`Grader` owns a few persistent worker processes (:mod:`.worker`) that run
math-verify. Every check first goes through the cheap stages in the caller's
process (extraction, normalisation, :func:`.compare.fast_compare`); only the
cases that need SymPy make a round trip to a worker.

Time limits
-----------
Each worker job has its own deadline, ``timeout`` seconds from the moment it is
handed to a ready worker. When the deadline passes the parent kills the worker
(SIGKILL), starts a fresh one in the background and returns
``Verdict(equivalent=False, timed_out=True)``: a pathological answer costs at most
``timeout`` seconds and never hangs the caller. math-verify's own SIGALRM
timeouts are never used (they fail outside the main thread and can still hang).
A worker that dies mid-job (killed from outside, crashed) is replaced and the
job retried once; a second death gives an error verdict. Workers start when the
first check needs one (or on :meth:`Grader.start`); the second or so a worker
spends importing SymPy does not count against any job's deadline.

Verdicts
--------
``pred`` may be a whole model output (its answer is extracted, see
:mod:`.extract`) or a bare answer. ``gold`` may be a bare answer or a text with
a marked answer (``\\boxed{}``, ``#### n``). ``Verdict.pred_answer`` is the
extracted answer as written, ``None`` when the text has none (then
``equivalent`` is False and ``error`` is None: no answer is a wrong answer,
not a failure of the grader).

A :class:`Grader` is safe to share between threads (calls are serialised).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from thinktree.grading.compare import fast_compare
from thinktree.grading.extract import answer_from_text, gold_answer
from thinktree.grading.normalise import is_choice_gold, normalise, text_answer

MAX_ANSWER_CHARS = 2000
"""Longer extracted answers are not graded (no benchmark answer comes close)."""

DEFAULT_TIMEOUT = 5.0
DEFAULT_MEMORY_MB = 2048
START_TIMEOUT = 120.0
"""Seconds a fresh worker may take to import math-verify before the grader gives up."""


class GraderError(RuntimeError):
    """The grader itself failed (a worker could not be started)."""


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check.

    ``method`` says which stage decided: ``"fast"``, ``"choice"``, ``"text"``,
    ``"math-verify"``, ``"no-answer"``, ``"timeout"`` or ``"error"``.
    """

    equivalent: bool
    timed_out: bool = False
    pred_answer: str | None = None
    gold: str = ""
    error: str | None = None
    method: str = ""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Job:
    """A check that needs a worker: normalised answers, and the answer as written."""

    index: int
    pred: str
    gold: str
    pred_answer: str = ""


def prepare(pred: str, gold: str) -> Verdict | Job:
    """Extract and normalise; a Verdict when no worker is needed, else the job for one."""
    pred_answer = answer_from_text(pred or "")
    if pred_answer is None:
        return Verdict(False, pred_answer=None, gold=gold, method="no-answer")
    gold_text = gold_answer(gold or "")
    if not gold_text:
        return Verdict(
            False, pred_answer=pred_answer, gold=gold, error="empty gold", method="error"
        )
    if len(pred_answer) > MAX_ANSWER_CHARS or len(gold_text) > MAX_ANSWER_CHARS:
        return Verdict(
            False,
            pred_answer=pred_answer[:MAX_ANSWER_CHARS],
            gold=gold,
            error=f"answer longer than {MAX_ANSWER_CHARS} characters",
            method="error",
        )
    p, g = normalise(pred_answer), normalise(gold_text)
    decided = fast_compare(p, g)
    if decided is not None:
        return Verdict(decided, pred_answer=pred_answer, gold=gold, method=_fast_method(g))
    return Job(-1, p, g, pred_answer)


def _fast_method(gold: str) -> str:
    if is_choice_gold(gold):
        return "choice"
    if text_answer(gold) is not None:
        return "text"
    return "fast"


class _Worker:
    """One worker process and the parent's view of it."""

    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        self.proc: subprocess.Popen[bytes] | None = None
        self.failed_starts = 0
        self.start()

    def start(self) -> None:
        env = dict(os.environ)
        env["PYTHONIOENCODING"] = "utf-8"
        # Make the worker import this very copy of thinktree, installed or not.
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_root, env.get("PYTHONPATH", "")) if p
        )
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "thinktree.grading.worker",
                "--memory-mb",
                str(self.memory_mb),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        self.buffer = b""
        self.ready = False
        self.job: Job | None = None
        self.deadline = 0.0
        self.start_deadline = time.monotonic() + START_TIMEOUT

    @property
    def fd(self) -> int:
        assert self.proc is not None and self.proc.stdout is not None
        return self.proc.stdout.fileno()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send(self, job: Job, timeout: float) -> bool:
        """Hand ``job`` to this (ready, idle) worker; False if the worker is gone."""
        assert self.proc is not None and self.proc.stdin is not None
        request = {"id": job.index, "pred": job.pred, "gold": job.gold, "timeout": timeout}
        line = json.dumps(request) + "\n"
        self.job = job
        try:
            self.proc.stdin.write(line.encode("ascii"))
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return False
        self.deadline = time.monotonic() + timeout
        return True

    def read(self) -> list[dict] | None:
        """Messages now available; ``None`` when the worker has gone away."""
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            return None
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    def kill(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def restart(self) -> None:
        self.kill()
        self.start()


def _shutdown(workers: list[_Worker]) -> None:
    for worker in workers:
        proc = worker.proc
        if proc is None or proc.poll() is not None:
            worker.kill()
            continue
        try:
            assert proc.stdin is not None
            proc.stdin.close()  # the worker exits at end of input
            proc.wait(timeout=1.0)
        except (OSError, subprocess.TimeoutExpired):
            pass
        worker.kill()


class Grader:
    """Persistent worker processes that decide answer equivalence under a deadline.

    >>> with Grader(workers=2, timeout=5.0) as g:  # doctest: +SKIP
    ...     g.check("so she has \\\\boxed{18} dollars", "18").equivalent
    True
    """

    def __init__(
        self,
        workers: int = 1,
        timeout: float = DEFAULT_TIMEOUT,
        memory_mb: int = DEFAULT_MEMORY_MB,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.timeout = float(timeout)
        self.workers = workers
        self.memory_mb = memory_mb
        self._lock = threading.Lock()
        # Workers start on first need (or on start()): a grader whose checks all
        # take the fast path never pays for importing SymPy.
        self._workers: list[_Worker] = []
        self._finalizer = weakref.finalize(self, _shutdown, self._workers)
        self.restarts = 0
        """Workers replaced so far (after a timeout or a crash)."""

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers. The grader cannot be used afterwards."""
        with self._lock:
            self._finalizer()

    def start(self, wait: bool = True) -> None:
        """Start the workers now (else the first check that needs one does).

        With ``wait`` block until every worker has loaded math-verify, so that
        the next checks measure grading, not start-up.
        """
        with self._lock:
            self._ensure_open()
            self._run([], self.timeout, wait_ready=wait)

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the current workers (empty before they start)."""
        return [w.pid for w in self._workers]

    def _ensure_open(self) -> None:
        if not self._finalizer.alive:
            raise GraderError("the grader is closed")
        while len(self._workers) < self.workers:
            self._workers.append(_Worker(self.memory_mb))

    def check(self, pred: str, gold: str, *, timeout: float | None = None) -> Verdict:
        """Is the answer in ``pred`` equivalent to ``gold``? (see the module docstring)"""
        return self.check_batch([(pred, gold)], timeout=timeout)[0]

    def check_batch(
        self, pairs: Iterable[tuple[str, str]], *, timeout: float | None = None
    ) -> list[Verdict]:
        """Verdicts for ``(pred, gold)`` pairs, in order; each job has its own deadline."""
        pairs = list(pairs)
        verdicts: list[Verdict | None] = [None] * len(pairs)
        jobs: list[Job] = []
        for i, (pred, gold) in enumerate(pairs):
            outcome = prepare(pred, gold)
            if isinstance(outcome, Verdict):
                verdicts[i] = outcome
            else:
                jobs.append(Job(i, outcome.pred, outcome.gold, outcome.pred_answer))
        if jobs:
            with self._lock:
                self._ensure_open()
                results = self._run(jobs, self.timeout if timeout is None else float(timeout))
            for job in jobs:
                equivalent, timed_out, error = results[job.index]
                method = "timeout" if timed_out else ("error" if error else "math-verify")
                verdicts[job.index] = Verdict(
                    equivalent,
                    timed_out=timed_out,
                    pred_answer=job.pred_answer,
                    gold=pairs[job.index][1],
                    error=error,
                    method=method,
                )
        return [v for v in verdicts if v is not None]

    def equivalent_normalised(
        self, pairs: Sequence[tuple[str, str]], *, timeout: float | None = None
    ) -> list[bool]:
        """Worker verdicts for already-normalised ``(pred, gold)`` pairs (used by grouping)."""
        jobs = [Job(i, p, g) for i, (p, g) in enumerate(pairs)]
        if not jobs:
            return []
        with self._lock:
            self._ensure_open()
            results = self._run(jobs, self.timeout if timeout is None else float(timeout))
        return [results[i][0] for i in range(len(jobs))]

    # -- the scheduler ---------------------------------------------------------

    def _run(
        self, jobs: list[Job], timeout: float, wait_ready: bool = False
    ) -> dict[int, tuple[bool, bool, str | None]]:
        """Run jobs across the workers; ``{index: (equivalent, timed_out, error)}``.

        With ``wait_ready``, also keep going until every worker is ready.
        """
        pending = deque(jobs)
        results: dict[int, tuple[bool, bool, str | None]] = {}
        crashed: set[int] = set()

        def worker_lost(worker: _Worker) -> None:
            if not worker.ready:
                worker.failed_starts += 1
                if worker.failed_starts >= 3:
                    raise GraderError(
                        "grader workers keep dying before they are ready "
                        f"({sys.executable} -m thinktree.grading.worker)"
                    )
            job = worker.job
            if job is not None:
                if job.index in crashed:
                    results[job.index] = (False, False, "grader worker crashed")
                else:
                    crashed.add(job.index)
                    pending.appendleft(job)
            self.restarts += 1
            worker.restart()

        while (
            pending
            or any(w.job is not None for w in self._workers)
            or (wait_ready and not all(w.ready for w in self._workers))
        ):
            for worker in self._workers:
                if not worker.alive():
                    worker_lost(worker)
                idle = worker.ready and worker.job is None
                if idle and pending and not worker.send(pending.popleft(), timeout):
                    worker_lost(worker)
            waiting = [w for w in self._workers if w.job is not None or not w.ready]
            now = time.monotonic()
            wake = min(w.deadline if w.job is not None else w.start_deadline for w in waiting)
            readable, _, _ = select.select([w.fd for w in waiting], [], [], max(0.0, wake - now))
            for worker in waiting:
                if worker.fd not in readable:
                    continue
                messages = worker.read()
                if messages is None:
                    worker_lost(worker)
                    continue
                for message in messages:
                    if message.get("ready"):
                        worker.ready = True
                        worker.failed_starts = 0
                    elif worker.job is not None and message.get("id") == worker.job.index:
                        results[worker.job.index] = (
                            bool(message["equivalent"]),
                            False,
                            message.get("error"),
                        )
                        worker.job = None
            now = time.monotonic()
            for worker in self._workers:
                if worker.job is not None and now >= worker.deadline:
                    results[worker.job.index] = (False, True, f"timed out after {timeout:g} s")
                    worker.job = None
                    self.restarts += 1
                    worker.restart()
                elif not worker.ready and now >= worker.start_deadline:
                    raise GraderError(
                        f"a grader worker did not start within {START_TIMEOUT:g} s "
                        f"({sys.executable} -m thinktree.grading.worker)"
                    )
        return results


_default: Grader | None = None
_default_lock = threading.Lock()


def default_grader() -> Grader:
    """A shared one-worker grader, started on first use and stopped at exit."""
    global _default
    with _default_lock:
        if _default is None or not _default._finalizer.alive:
            _default = Grader(workers=1)
        return _default


def is_equivalent(pred: str, gold: str, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """One check: ``Verdict.equivalent`` of ``pred`` against ``gold``.

    Obvious cases are decided in-process; the rest go to a shared worker
    started on first need (:func:`default_grader`).
    """
    outcome = prepare(pred, gold)
    if isinstance(outcome, Verdict):
        return outcome.equivalent
    return default_grader().check(pred, gold, timeout=timeout).equivalent
