"""Fakes for the evolve stages: a searcher whose solver answers at once, trainers that
write the files the real ones would, a clock a test moves, a reporter that records."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinktree.eval.fanout import SolverHandle
from thinktree.eval.harness import SolvedProblem, SolveHooks
from thinktree.problems import Problem
from thinktree.reward.ppm import PPM_FILES
from thinktree.reward.registry import spec_is_scored
from thinktree.search import SearchConfig
from thinktree.steps import Step, StepKind
from thinktree.store import ResultRow, RunStore
from thinktree.train.evolve.config import EvolveConfig, load_evolve_config
from thinktree.train.evolve.trainers import Progress, Trainers
from thinktree.train.sft.data import Trajectory
from thinktree.train.sft.training import ADAPTER_DIR, SFTReport

POOL = [(f"What is {a} plus {b}?", a + b) for a, b in [(3, 4), (10, 5), (7, 8), (20, 22), (6, 6)]]


class Clock:
    """Monotonic seconds that move only when a test (or a fake) says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += 60 * minutes


class Killed(Exception):
    """A kill in the middle of a stage (the process dies; nothing is recorded)."""


class Recorder:
    """A reporter that records every stage started; raises Killed at ``kill_at``."""

    def __init__(self, kill_at: str | None = None) -> None:
        self.started: list[str] = []
        self.notes: list[str] = []
        self.kill_at = kill_at

    def stage(self, round_index: int, name: str, total: int | None) -> None:
        self.started.append(f"{round_index}:{name}")
        if self.started[-1] == self.kill_at:
            raise Killed(self.kill_at)

    def advance(self, done: int, total: int | None = None) -> None:
        pass

    def note(self, text: str) -> None:
        self.notes.append(text)


@dataclass
class FakeSolver:
    """Answers every problem with its gold answer, ``minutes_each`` on ``clock`` apiece."""

    search: SearchConfig
    scorer_spec: str | None
    clock: Clock
    minutes_each: float
    solved: list[str]

    @property
    def config(self) -> SearchConfig:
        return self.search

    @property
    def scored(self) -> bool:
        return spec_is_scored(self.scorer_spec)

    def solve(self, todo: Sequence[tuple[int, Problem]], window: int, hooks: SolveHooks) -> None:
        for position, problem in todo:
            if hooks.stopped():
                return
            self.clock.advance(self.minutes_each)
            self.solved.append(problem.id)
            row = ResultRow(problem.id, position, problem.question, problem.answer,
                            problem.answer, True, 10, 5, 0, 0.5, "answer")  # fmt: skip
            hooks.on_solved(SolvedProblem(row))


@dataclass
class FakeSearcher:
    """Records (model spec, strategy, scorer spec) of every search stage it serves."""

    clock: Clock
    minutes_each: float = 0.0
    calls: list[tuple[str, str, str | None]] = field(default_factory=list)
    solved: list[str] = field(default_factory=list)

    @contextmanager
    def __call__(
        self, spec: str, search: SearchConfig, scorer_spec: str | None
    ) -> Iterator[SolverHandle]:
        self.calls.append((spec, search.strategy, scorer_spec))
        solver = FakeSolver(search, scorer_spec, self.clock, self.minutes_each, self.solved)
        yield SolverHandle(solver, {"name": spec}, scorer_spec or "none", 100.0)


def reference_steps(problem: Problem) -> list[Step]:
    code = f"print({problem.answer})"
    return [
        Step(text=f"\n```python\n{code}\n```\n", kind=StepKind.CODE, code=code,
             output=str(problem.answer)),
        Step(text=f"\nAnswer: \\boxed{{{problem.answer}}}", kind=StepKind.FINAL,
             answer=problem.answer),
    ]  # fmt: skip


@dataclass
class FakeTrainers:
    """Trainers that write what the real ones leave behind, and record their inputs."""

    clock: Clock
    sft_minutes: float = 0.0
    sft_stops: bool = False
    ppm_fails: bool = False
    ppm_stops: bool = False
    ppm_deadlines: list[float | None] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    sft_data: list[list[Trajectory]] = field(default_factory=list)

    def sft(
        self, trajectories: list[Trajectory], out: Path, progress: Progress, deadline: float | None
    ) -> SFTReport | None:
        self.calls.append("sft")
        self.sft_data.append(trajectories)
        self.clock.advance(self.sft_minutes)
        if self.sft_stops:
            return None
        (out / ADAPTER_DIR).mkdir(parents=True, exist_ok=True)
        return SFTReport(len(trajectories), 0, 0, 3, 120, 60, 30.0, 4.0, 1.5, 1.25,
                         str(out / ADAPTER_DIR))  # fmt: skip

    def export(self, peft: Path, dest: Path) -> Path:
        self.calls.append("export")
        dest.write_bytes(b"adapter of " + peft.parent.parent.name.encode())
        return dest

    def parity(self, trajectories: Sequence[Trajectory], peft: Path, adapter: Path) -> dict:
        self.calls.append("parity")
        return {"agree": 0.95, "base_agree": 0.5, "positions": 8, "texts": len(trajectories)}

    def ppm(
        self,
        store: RunStore,
        runs: Sequence[str],
        directory: Path,
        known: set[str],
        deadline: float | None,
    ) -> dict | None:
        self.calls.append("ppm")
        self.ppm_deadlines.append(deadline)
        if self.ppm_fails:
            raise ValueError("2 pairs; at least 20 are needed")
        if self.ppm_stops:
            return None
        directory.mkdir(parents=True, exist_ok=True)
        for name in PPM_FILES:
            (directory / name).write_text("{}")
        return {"pairs": 40, "pairwise_accuracy_new": 0.75, "runs": list(runs),
                "known": sorted(known)}  # fmt: skip

    def references(self, problems: Sequence[Problem], progress: Progress) -> dict[str, list[Step]]:
        self.calls.append("references")
        return {p.id: reference_steps(p) for p in problems[:2]}

    def bundle(self) -> Trainers:
        return Trainers(self.sft, self.export, self.parity, self.ppm, self.references)


def evolve_config(tmp_path: Path, **overrides: Any) -> EvolveConfig:
    """Rounds 0..1 over a 5-problem pool (3, then 2 new), 2 + 1 dev problems."""
    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps({"q": q, "a": a}) + "\n" for q, a in POOL))
    base: dict[str, Any] = {
        "rounds": 1,
        "pool": {"benchmark": None, "data": str(pool), "question_field": "q",
                 "answer_field": "a", "size": 3, "grow": 2},
        "dev.greedy_limit": 2,
        "dev.mcts_limit": 1,
    }  # fmt: skip
    return load_evolve_config(None, {**base, **overrides})


def ledger_stages(out: Path, index: int) -> dict[str, Any]:
    manifest = json.loads((out / f"round-{index}" / "manifest.json").read_text())
    return {name: {k: v for k, v in figures.items() if k != "finished"}
            for name, figures in manifest["stages"].items()}  # fmt: skip
