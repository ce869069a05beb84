"""Cost of safety: sandboxed execution next to in-process ``exec`` of the same code.

    thinktree bench benchmarks/recipes/sandbox.yaml [--set quick=true] [--set workers=N]

Measures, with warm workers: latency of a trivial cell and of a 5-cell
trajectory (median and p95), throughput of the pool (trivial executions per
second through ``run_batch``), and the same code run with ``exec`` in this
process. Writes ``benchmarks/results/sandbox.json``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from thinktree.eval.bench.probes.base import Probe, ProbeContext, ProbeOptions
from thinktree.eval.bench.probes.results import write_results

if TYPE_CHECKING:
    from thinktree.sandbox import Sandbox

TRIVIAL = ["print(1 + 1)"]
TRAJECTORY5 = [
    "# Cost of the pens: 4 pens at 3 dollars each.\ncost = 4 * 3\nprint(cost)",
    "# Change from 20 dollars.\nchange = 20 - cost\nprint(change)",
    "from fractions import Fraction\nratio = Fraction(change, cost)\nprint(ratio)",
    "import math\nprint(math.isqrt(change * cost))",
    "total = sum(range(change))\nprint(total)",
]
SYMPY = ["import sympy as sp\nx = sp.Symbol('x')\nprint(sp.solve(x**2 - 5*x + 6, x))"]


class SandboxOptions(ProbeOptions):
    quick: bool = False
    """Few iterations: a smoke test, not a measurement."""
    workers: int = Field(2, ge=1)
    """Sandbox worker processes (warm before timing)."""
    out: str = "benchmarks/results/sandbox.json"
    """The results file (relative to the repository)."""


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def time_sandbox(box: Sandbox, cells: list[str], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        result = box.run(cells)
        samples.append((time.perf_counter() - started) * 1000)
        assert result.error is None, result.error
    return samples


def time_in_process(cells: list[str], n: int) -> list[float]:
    """What the public systems do: ``exec`` in the host, stdout captured, no limits."""
    compiled_each_time = cells  # compile inside the loop, as a step runner must
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        namespace: dict = {"__name__": "__main__"}
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink):
            for index, source in enumerate(compiled_each_time):
                exec(compile(source, f"<cell {index + 1}>", "exec"), namespace)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def run(options: SandboxOptions, ctx: ProbeContext) -> Path:
    from thinktree.sandbox import Sandbox, SandboxConfig

    n = 30 if options.quick else 500
    batch = 60 if options.quick else 1000

    with Sandbox(SandboxConfig(workers=options.workers)) as box:
        layers = box.layers
        time_sandbox(box, TRIVIAL + TRAJECTORY5, 10)  # warm every code path
        trivial = time_sandbox(box, TRIVIAL, n)
        trajectory = time_sandbox(box, TRAJECTORY5, n)
        sympy_cell = time_sandbox(box, SYMPY, max(10, n // 5))
        started = time.perf_counter()
        results = box.run_batch([TRIVIAL] * batch)
        pool_seconds = time.perf_counter() - started
        assert all(r.error is None for r in results)
        started = time.perf_counter()
        box.run_batch([TRAJECTORY5] * (batch // 5))
        trajectory_pool_seconds = time.perf_counter() - started

    time_in_process(TRIVIAL + TRAJECTORY5 + SYMPY, 5)  # imports and caches, as the workers have
    in_trivial = time_in_process(TRIVIAL, n)
    in_trajectory = time_in_process(TRAJECTORY5, n)

    figures = {
        "trivial_median_ms": round(statistics.median(trivial), 3),
        "trivial_p95_ms": round(percentile(trivial, 0.95), 3),
        "trajectory5_median_ms": round(statistics.median(trajectory), 3),
        "trajectory5_p95_ms": round(percentile(trajectory, 0.95), 3),
        "cells_per_s": round(batch / pool_seconds, 1),
        "trajectories5_per_s": round((batch // 5) / trajectory_pool_seconds, 1),
        "sympy_solve_median_ms": round(statistics.median(sympy_cell), 3),
        "inprocess_median_ms": round(statistics.median(in_trivial), 4),
        "inprocess_trajectory5_median_ms": round(statistics.median(in_trajectory), 4),
    }
    figures["ratio_trivial"] = round(
        figures["trivial_median_ms"] / figures["inprocess_median_ms"], 1
    )
    figures.update(
        quick=options.quick,
        n=n,
        batch=batch,
        workers=options.workers,
        machine=f"{platform.machine()}, {os.cpu_count()} CPUs, Linux {platform.release()}",
        python=sys.version.split()[0],
        layers=layers,
    )
    path = write_results(ctx.path(options.out), figures)
    ctx.say(json.dumps(figures, indent=2))
    return path


PROBE = Probe(SandboxOptions, "sandboxed cells against in-process exec", run)
