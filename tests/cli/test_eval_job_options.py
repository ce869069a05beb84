"""`thinktree eval`'s sitting options (--window, --max-minutes, --new), generated from
EvalJobConfig, reach the evaluation as the hand-written ones did."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.eval.bench_fakes import Clock
from tests.eval.test_bench import TableSolver
from thinktree.cli import app
from thinktree.eval.fanout.backend import SolverHandle
from thinktree.eval.harness import SolveHooks
from thinktree.problems import Problem
from thinktree.search import SearchConfig


class WindowedSolver(TableSolver):
    """The benchmark runner's fake solver (problem i answered i), recording its windows."""

    def __init__(self, config: SearchConfig, windows: list[int]) -> None:
        super().__init__(config, Clock())
        self.windows = windows

    def solve(self, todo: Sequence[tuple[int, Problem]], window: int, hooks: SolveHooks) -> None:
        self.windows.append(window)
        super().solve(todo, window, hooks)


@pytest.fixture
def windows(monkeypatch) -> list[int]:
    """`eval` on the fake solver (no model loaded); the windows its sittings used."""
    import thinktree.eval.fanout

    seen: list[int] = []

    @contextmanager
    def open_solver(engine: Any, config: SearchConfig, scorer: str, fan: Any) -> Iterator[Any]:
        model = {"engine": "Fake", "name": "fake-model", "sha256": None}
        yield SolverHandle(WindowedSolver(config, seen), model, scorer, 1.0)

    monkeypatch.setattr(thinktree.eval.fanout, "open_solver", open_solver)
    return seen


def _eval(tmp_path: Path, *args: str) -> Any:
    data = tmp_path / "problems.jsonl"
    data.write_text('{"question": "q0", "answer": "0"}\n{"question": "q1", "answer": "5"}\n')
    return CliRunner().invoke(app, ["eval", "--data", str(data), "--strategy", "greedy",
                                    "--store", str(tmp_path / "runs.db"), "--json", *args])  # fmt: skip


def test_window_new_and_max_minutes_reach_the_evaluation(tmp_path: Path, windows) -> None:
    first = _eval(tmp_path, "--window", "3")
    assert first.exit_code == 0, first.output
    run = json.loads(first.stdout)
    assert (run["accuracy"], run["n"], windows) == (0.5, 2, [3])
    again = _eval(tmp_path)  # the stored run, resumed: nothing left to solve
    assert json.loads(again.stdout)["run_id"] == run["run_id"]
    assert "resuming" in again.stderr and "0 of 2 problems to solve" in again.stderr
    fresh = _eval(tmp_path, "--new", "--max-minutes", "0")  # a new run, stopped at once
    assert fresh.exit_code == 0, fresh.output
    assert json.loads(fresh.stdout)["run_id"] == f"{run['run_id']}-2"
    assert json.loads(fresh.stdout)["n"] == 0
    assert "stopped before the end; run the same command again to resume" in fresh.stderr


def test_a_window_below_one_is_one_line(tmp_path: Path, windows) -> None:
    out = _eval(tmp_path, "--window", "0")
    assert out.exit_code == 2
    assert out.stderr.strip().splitlines() == [
        "error: window: Input should be greater than or equal to 1"
    ]
    assert windows == []
