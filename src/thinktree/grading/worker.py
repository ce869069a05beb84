"""A grader worker process: ``python -m thinktree.grading.worker``.

The parent (:class:`thinktree.grading.Grader`) starts a fresh interpreter (never
a fork of a possibly multithreaded parent) and talks to it over stdin/stdout,
one JSON object per line:

* worker -> parent, once, when math-verify is imported and warm (see warmup.py): ``{"ready": true}``
* parent -> worker: ``{"id": 7, "pred": "...", "gold": "...", "timeout": 5.0}``
  (normalised answers; ``timeout`` sizes the CPU backstop below)
* worker -> parent: ``{"id": 7, "equivalent": false, "error": null}``

The worker enforces no time limit of its own: math-verify runs with its SIGALRM
timeouts disabled, and the parent kills the worker when a deadline passes. A
memory limit (``RLIMIT_AS``) turns runaway SymPy allocations into a
``MemoryError``, reported as an error verdict. The worker exits when its stdin
closes or its parent dies; a CPU-time limit (``RLIMIT_CPU``, reset before each
job to twice the job's timeout plus ten seconds) ends a worker orphaned in
the middle of a runaway computation.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import threading
import time
from typing import TextIO


def _limit_memory(megabytes: int) -> None:
    if megabytes <= 0:
        return
    try:
        import resource
    except ImportError:  # not POSIX: run without a limit
        return
    limit = megabytes * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _exit_with_parent(interval: float = 1.0) -> None:
    """Exit when the parent dies, even in the middle of a runaway computation.

    A closed stdin ends the request loop, but not a comparison that is already
    running (the parent may have died while it waited on a deadline).
    """
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _limit_cpu(seconds: float) -> None:
    """Let the kernel end this process after ``seconds`` more CPU time (SIGXCPU).

    The parent kills a worker at its wall-clock deadline long before; this is
    the backstop for a worker whose parent died mid-job while the worker was
    inside one long C-level operation (a huge integer power) that keeps the
    watchdog thread from ever running.
    """
    try:
        import resource
    except ImportError:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + seconds)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _answer(request: dict, compare) -> dict:
    try:
        equivalent = bool(compare(request["pred"], request["gold"]))
        return {"id": request["id"], "equivalent": equivalent, "error": None}
    except MemoryError:
        return {"id": request["id"], "equivalent": False, "error": "out of memory"}
    except RecursionError:
        return {"id": request["id"], "equivalent": False, "error": "recursion too deep"}
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"[:300]
        return {"id": request["id"], "equivalent": False, "error": message}


def serve(requests: TextIO, replies: TextIO) -> None:
    from thinktree.grading import two_stage
    from thinktree.grading.compare import math_verify_compare, quiet_math_verify
    from thinktree.grading.warmup import WARMUP_PAIRS

    quiet_math_verify()
    two_stage.install()
    for pred, gold in WARMUP_PAIRS:  # fill the LaTeX parser's caches before saying ready
        _answer({"id": 0, "pred": pred, "gold": gold}, math_verify_compare)
    replies.write(json.dumps({"ready": True}) + "\n")
    replies.flush()
    for line in requests:
        if not line.strip():
            continue
        request = json.loads(line)
        _limit_cpu(2 * float(request.get("timeout", 60.0)) + 10.0)
        reply = _answer(request, math_verify_compare)
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="thinktree.grading.worker")
    parser.add_argument("--memory-mb", type=int, default=0)
    args = parser.parse_args(argv)
    # The protocol owns the real stdout; anything else printing goes to stderr.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    _limit_memory(args.memory_mb)
    _exit_with_parent()
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):
        serve(sys.stdin, replies)


if __name__ == "__main__":
    main()
