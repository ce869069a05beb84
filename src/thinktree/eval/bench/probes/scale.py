"""Issue 22: problems per minute with and without Ray, and Ray's own cost per problem.

Run with nothing else on the machine (Ray included: ``pip install 'thinktree[ray]'``):

    thinktree bench benchmarks/recipes/scale.yaml                      # both parts, in one run
    thinktree bench benchmarks/recipes/scale.yaml --set part=overhead  # the scripted part only
    thinktree bench benchmarks/recipes/scale.yaml --set part=model     # the 0.5B layouts only

``model``: the same gsm8k test problems (first ``problems``, default 20), greedy,
the fast 0.5B, each layout into a fresh store and timed from a started engine:
- ``one_process``: one llama.cpp engine with 2 threads (its default slots and window);
- ``ray_1_worker``: one Ray worker, its engine with 1 thread;
- ``ray_2_workers``: two Ray workers, 1 thread each.
Problems per minute count the search only (``solve_seconds``); start-up (model load,
or Ray and its workers) is reported beside it. The layouts' answers are compared.

``overhead``: the scripted engine (a canned cell and answer, a real sandbox and
grader) on ``scripted_problems`` problems, one process against one Ray worker
fed problem by problem, the fastest of ``repeats`` sittings each: the difference
per problem is what Ray's round trips, pickling and scheduling add. Merges into
benchmarks/results/scale.json.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from thinktree.api import Runtime
from thinktree.engines.base import CompletionRequest
from thinktree.engines.factory import EngineConfig
from thinktree.engines.scripted import ScriptedEngine
from thinktree.eval.bench.probes.base import Probe, ProbeContext, ProbeError, ProbeOptions
from thinktree.eval.bench.probes.results import read_results, write_results
from thinktree.eval.fanout import FanoutConfig, WorkerKit, open_solver, ray_solver
from thinktree.eval.harness import Evaluation, LocalSolver, ProblemSolver
from thinktree.grading import Grader
from thinktree.problems import Problem, load_source, select
from thinktree.reward import NullScorer
from thinktree.sandbox import Sandbox, SandboxConfig
from thinktree.search import SearchConfig
from thinktree.search.greedy import GreedySearch
from thinktree.search.registry import default_slots, default_window, strategy_name
from thinktree.store import RunStore

GREEDY = SearchConfig(strategy=strategy_name(GreedySearch))


class ScaleOptions(ProbeOptions):
    part: Literal["all", "model", "overhead"] = "all"
    """Which part to measure: the 0.5B layouts (model), Ray's own cost (overhead), or both."""
    problems: int = Field(20, ge=1)
    """gsm8k test problems of the model part (the first N)."""
    scripted_problems: int = Field(100, ge=1)
    """Problems of the scripted (overhead) part."""
    repeats: int = Field(3, ge=1)
    """Sittings of the scripted part (the fastest counts)."""
    out: str = "benchmarks/results/scale.json"
    """The results file (relative to the repository); the parts not run are kept."""


# -- timing one layout ----------------------------------------------------------------------


@dataclass(frozen=True)
class Timed:
    startup_seconds: float
    solve_seconds: float
    rows: list[Any]

    def figures(self) -> dict[str, Any]:
        n = len(self.rows)
        return {
            "problems": n,
            "startup_seconds": round(self.startup_seconds, 2),
            "solve_seconds": round(self.solve_seconds, 2),
            "problems_per_minute": round(60 * n / self.solve_seconds, 2),
            "seconds_per_problem": round(self.solve_seconds / n, 4),
            "correct": sum(1 for r in self.rows if r.correct),
            "generated_tokens": sum(r.generated_tokens for r in self.rows),
        }


def timed_eval(
    problems: list[Problem],
    opener: Callable[[], Any],
    solver_of: Callable[[Any], tuple[ProblemSolver, dict[str, Any]]],
    window: int,
    repeats: int = 1,
) -> Timed:
    """Open (timed), then evaluate every problem into a fresh store (timed), ``repeats``
    times over; the fastest sitting counts (the least disturbed by other load)."""
    started = time.perf_counter()
    solves: list[float] = []
    with opener() as opened, tempfile.TemporaryDirectory() as tmp:
        startup = time.perf_counter() - started
        solver, model_id = solver_of(opened)
        for sitting in range(repeats):
            with RunStore(Path(tmp) / f"runs-{sitting}.db") as store:
                evaluation = Evaluation(
                    problems, dataset="bench", dataset_hash="bench", solver=solver,
                    store=store, model_id=model_id,
                )  # fmt: skip
                started = time.perf_counter()
                outcome = evaluation.run_all(window=window)
                solves.append(time.perf_counter() - started)
    return Timed(startup, min(solves), outcome.rows)


# -- the 0.5B layouts -----------------------------------------------------------------------


def model_part(count: int) -> dict[str, Any]:
    problems, _ = load_source("gsm8k", "test")
    chosen = select(problems, limit=count)
    slots = default_slots(GREEDY)
    window = default_window(GREEDY, slots)

    def layout(threads: int, fanout: FanoutConfig) -> Timed:
        engine = EngineConfig(model="fast", parallel=slots, threads=threads)
        return timed_eval(
            chosen,
            lambda: open_solver(engine, GREEDY, None, fanout),
            lambda handle: (handle.solver, handle.model_id),
            window,
        )

    layouts = {
        "one_process": layout(2, FanoutConfig()),
        "ray_1_worker": layout(1, FanoutConfig(ray="auto", workers=1)),
        "ray_2_workers": layout(1, FanoutConfig(ray="auto", workers=2)),
    }
    reference = [r.answer for r in layouts["one_process"].rows]
    out: dict[str, Any] = {
        "model": "qwen2.5-coder-0.5b-instruct (fast), greedy",
        "problems": f"gsm8k:test[:{count}]",
        "slots_per_engine": slots,
        "window_per_engine": window,
    }
    for name, timed in layouts.items():
        figures = timed.figures()
        figures["answers_as_one_process"] = sum(
            a == b for a, b in zip(reference, [r.answer for r in timed.rows], strict=True)
        )
        out[name] = figures
    return out


# -- Ray's own overhead, on the scripted engine -----------------------------------------------


def _script(request: CompletionRequest, index: int) -> str:
    n = int(request.prompt.rsplit("What is ", 1)[1].split(" ")[0])
    if "Output:" not in request.prompt.split("<assistant>\n", 1)[1]:
        return f"\n```python\ns = {n} + {n}\nprint(s)\n```\n"
    return f"\nAnswer: \\boxed{{{2 * n}}}"


@dataclass(frozen=True)
class ScriptedRecipe:
    """A worker kit on the scripted engine with a real sandbox and grader."""

    def open(self) -> WorkerKit:
        sandbox = Sandbox(SandboxConfig(workers=1))
        grader = Grader(workers=1)
        runtime = Runtime(ScriptedEngine(_script), sandbox, grader, [sandbox, grader])
        return WorkerKit(runtime, NullScorer(), "none")


@contextmanager
def _local_kit() -> Iterator[WorkerKit]:
    kit = ScriptedRecipe().open()
    try:
        yield kit
    finally:
        kit.close()


def overhead_part(count: int, repeats: int) -> dict[str, Any]:
    problems = [Problem(f"s{i}", f"What is {i} + {i}?", str(2 * i)) for i in range(count)]
    window = 4

    def local(kit: WorkerKit) -> tuple[ProblemSolver, dict[str, Any]]:
        return LocalSolver(kit.runtime.context(GREEDY, kit.scorer)), kit.runtime.model_id()

    def fanned(workers: int) -> Timed:
        fanout = FanoutConfig(ray="auto", workers=workers)
        return timed_eval(
            problems,
            lambda: ray_solver(ScriptedRecipe(), GREEDY, fanout),
            lambda solver: (solver, solver.model_id),
            window,
            repeats,
        )

    one = timed_eval(problems, _local_kit, local, window, repeats)
    ray1 = fanned(1)
    ray2 = fanned(2)
    per_problem = (ray1.solve_seconds - one.solve_seconds) / count
    return {
        "engine": "scripted (canned cell and answer; real sandbox and grader)",
        "problems": count,
        "window": window,
        "repeats": repeats,
        "one_process": one.figures(),
        "ray_1_worker": ray1.figures(),
        "ray_2_workers": ray2.figures(),
        "ray_overhead_seconds_per_problem": round(per_problem, 4),
        "note": "ray_1_worker minus one_process, solve time per problem (the fastest of "
        "the repeats each); start-up (Ray and its workers) is in startup_seconds",
    }


# -- the report -----------------------------------------------------------------------------


def machine(root: Path) -> dict[str, Any]:
    from thinktree.eval.fanout import INSTALL_HINT

    try:
        import ray
    except ImportError as exc:
        raise ProbeError(f"the scale probe needs Ray: {INSTALL_HINT}") from exc
    sha = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Linux {platform.release()}",
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "ray": ray.__version__,
        "git": sha,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def run(options: ScaleOptions, ctx: ProbeContext) -> Path:
    path = ctx.path(options.out)
    report = read_results(path)
    report["command"] = ctx.command
    context = machine(ctx.root)
    if options.part in ("all", "overhead"):
        report["scripted_overhead"] = {
            **overhead_part(options.scripted_problems, options.repeats),
            **context,
        }
    if options.part in ("all", "model"):
        report["model"] = {**model_part(options.problems), **context}
    write_results(path, report)
    ctx.say(json.dumps(report, indent=2))
    return path


PROBE = Probe(ScaleOptions, "problems per minute with and without Ray", run)
