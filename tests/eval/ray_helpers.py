"""Scripted Ray workers for the fan-out tests (the scripted engine is for tests only).

The script's answers depend on each request's seed, so a result changes if
seeds depended on which worker, batch or order a problem met. A recipe can make
its worker process die on one problem (``os._exit``), once (a marker file says
it already did) or every time.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import answer, cell, depth_of
from thinktree.api import Runtime
from thinktree.engines.base import CompletionRequest
from thinktree.engines.scripted import ScriptedEngine
from thinktree.eval.fanout import WorkerKit
from thinktree.grading import Grader
from thinktree.problems import Problem
from thinktree.reward import NullScorer
from thinktree.sandbox import Sandbox, SandboxConfig

PROBLEMS = [Problem(f"p{i}", f"What is {i} + {i}?", str(2 * i)) for i in range(8)]


def number(prompt: str) -> int:
    return int(prompt.rsplit("What is ", 1)[1].split(" ")[0])


@dataclass(frozen=True)
class ScriptedRecipe:
    """A worker kit on the scripted engine, with a real sandbox and grader."""

    delay: float = 0.0
    """Seconds each completion of a problem numbered ``slow_from`` or more takes."""
    slow_from: int = 0
    die_on: str | None = None
    """The question (``What is N``) on which the worker process dies."""
    marker: str | None = None
    """A file created before dying; while it exists the worker no longer dies."""
    fail_open: str | None = None
    """Raise ValueError with this message instead of building the kit."""

    def script(self, request: CompletionRequest, index: int) -> str:
        n = number(request.prompt)
        if n >= self.slow_from:
            time.sleep(self.delay)
        if self.die_on is not None and f"What is {self.die_on} " in request.prompt:
            marker = Path(self.marker) if self.marker else None
            if marker is None or not marker.exists():
                if marker is not None:
                    marker.touch()
                os._exit(3)
        if depth_of(request.prompt) == 0:
            return cell(f"s = {n} + {n}\nprint(s)")
        # A quarter of the (seeded) samples go wrong: the vote depends on the seeds.
        wrong = (request.seed + index) % 4 == 0
        return answer(str(2 * n + 1 if wrong else 2 * n))

    def open(self) -> WorkerKit:
        if self.fail_open is not None:
            raise ValueError(self.fail_open)
        sandbox = Sandbox(SandboxConfig(workers=1))
        grader = Grader(workers=1)
        engine = ScriptedEngine(self.script)
        return WorkerKit(Runtime(engine, sandbox, grader, [sandbox, grader]), NullScorer(), "none")


def comparable(row: object) -> dict[str, object]:
    """A stored row without what may differ between equal searches: timings, and how a
    prompt split between evaluated and cached tokens (what each engine's cache saw)."""
    data = strip_seconds(dataclasses.asdict(row))  # type: ignore[call-overload]
    data["prompt_total"] = data.pop("prompt_tokens") + data.pop("cached_tokens")
    usage = data["extra"]["usage"]
    for prefix in ("", "request_"):
        usage[f"{prefix}prompt_total"] = usage.pop(f"{prefix}prompt_tokens") + usage.pop(
            f"{prefix}cached_tokens"
        )
    return data


def strip_seconds(value: object) -> object:
    """``value`` without the entries whose key ends in ``seconds``, at any depth."""
    if isinstance(value, dict):
        return {k: strip_seconds(v) for k, v in value.items() if not str(k).endswith("seconds")}
    if isinstance(value, list):
        return [strip_seconds(v) for v in value]
    return value


def sum_script(request: CompletionRequest, index: int) -> str:
    """Any question: a cell adding the numbers ``What is A plus B`` names (else 0 + 1),
    the sibling ``index`` 1 subtracting them; then the last output as the answer."""
    if depth_of(request.prompt) == 0:
        numbers = request.prompt.rsplit("What is ", 1)[-1].split("?")[0].split(" plus ")
        a, b = (numbers[0], numbers[1]) if len(numbers) == 2 else ("0", "1")
        sign = "-" if index % 2 else "+"
        return cell(f"s = {a.strip()} {sign} {b.strip()}\nprint(s)")
    return answer(request.prompt.rsplit("Output:", 1)[1].split("\n")[0].strip())


@dataclass(frozen=True)
class SumRecipe:
    """A worker kit on :func:`sum_script`, with the scorer a search stage names."""

    scorer: str | None = None

    def open(self) -> WorkerKit:
        from thinktree.reward.registry import load_scorer

        sandbox = Sandbox(SandboxConfig(workers=1))
        grader = Grader(workers=1)
        scorer, scorer_id = load_scorer(self.scorer)
        runtime = Runtime(ScriptedEngine(sum_script), sandbox, grader, [sandbox, grader])
        return WorkerKit(runtime, scorer, scorer_id)
