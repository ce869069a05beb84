"""A strategy and a scorer registered from this file alone, run through every command.

Adding a strategy is one module and one registry line, adding a scorer likewise:
here the "module" is this test file and the "line" a ``monkeypatch.setitem`` on
the registry. Nothing else names them, yet ``solve``, ``eval``, ``rescore`` and
``report`` take them as they take the built-in ones.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import answer, cell, depth_of
from thinktree.cli import app
from thinktree.engines.base import CompletionRequest
from thinktree.engines.scripted import ScriptedEngine
from thinktree.reward.base import ScoreItem, StepScorer
from thinktree.reward.registry import SCORERS, ScorerEntry
from thinktree.search.base import ProblemSearch
from thinktree.search.config import SearchConfig
from thinktree.search.expand import Expansion
from thinktree.search.registry import STRATEGIES
from thinktree.search.result import SolveResult, Trajectory
from thinktree.steps import Step, StepKind

runner = CliRunner()


class FewestSteps(ProblemSearch):
    """``samples`` independent solutions; the answer of the one with the fewest steps."""

    independent_samples = True

    @classmethod
    def width(cls, config: SearchConfig) -> int:
        return config.samples

    @classmethod
    def trajectories(cls, config: SearchConfig) -> float:
        return float(config.samples)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.samples: list[list[Step]] = []

    def next_expansions(self) -> list[Expansion]:
        if not self.samples:
            return [self.expansion([], self.config.samples, "first", tag=None)]
        return [
            self.expansion(steps, 1, "sample", i, len(steps), tag=i)
            for i, steps in enumerate(self.samples)
            if not self.branch_ends(steps)
        ]

    def absorb(self, expansions: list[Expansion]) -> None:
        if not self.samples:
            self.samples = [[c] for c in expansions[0].candidates]
            return
        for expansion in expansions:
            self.samples[expansion.tag].append(expansion.candidates[0])

    def result(self, stop_reason: str) -> SolveResult:
        answers = [s[-1].answer if s[-1].kind is StepKind.FINAL else None for s in self.samples]
        finished = [(len(s), i) for i, s in enumerate(self.samples) if answers[i] is not None]
        return self.solve_result(
            stop_reason,
            answers[min(finished)[1]] if finished else None,
            [Trajectory(s, a) for s, a in zip(self.samples, answers, strict=True)],
            answers,
        )


class LongerIsBetter(StepScorer):
    """A tenth per step: the longest solution wins."""

    name = "toy"

    def score(self, items: Sequence[ScoreItem]) -> list[float]:
        return [0.1 * len(item.steps) for item in items]


def script(request: CompletionRequest, index: int) -> str:
    """Sample 0 guesses 0 at once; sample 1 computes n + n; sample 2 computes n + n + 1."""
    n = int(request.prompt.rsplit("What is ", 1)[1].split(" ")[0])
    if depth_of(request.prompt) == 0:
        return answer("0") if index == 0 else cell(f"s = {n} + {n} + {index - 1}\nprint(s)")
    return answer(request.prompt.rsplit("Output: ", 1)[1].split("\n")[0])


@pytest.fixture
def toys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(STRATEGIES, "fewest_steps", FewestSteps)
    entry = ScorerEntry(LongerIsBetter, lambda argument: (LongerIsBetter(), "toy"), "toy")
    monkeypatch.setitem(SCORERS, "toy", entry)
    monkeypatch.setattr(
        "thinktree.api.create_engine", lambda config, progress=None: ScriptedEngine(script)
    )


def invoke(*args: str) -> dict:
    out = runner.invoke(app, list(args))
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_toy_strategy_and_scorer_run_through_every_command(toys, tmp_path: Path) -> None:
    solved = invoke("solve", "What is 2 + 2?", "--strategy", "fewest_steps", "--samples", "3",
                    "--json")  # fmt: skip
    assert (solved["answer"], solved["strategy"], len(solved["steps"])) == ("0", "fewest_steps", 1)
    picked = invoke("solve", "What is 2 + 2?", "--strategy", "best_of_n", "--samples", "3",
                    "--scorer", "toy", "--json")  # fmt: skip
    assert (picked["answer"], picked["votes"]) == ("4", {"0": 0.1, "4": 0.2, "5": 0.2})

    data = tmp_path / "toy.jsonl"
    data.write_text("".join(f'{{"question": "What is {n} + {n}?", "answer": {2 * n}}}\n'
                            for n in range(3)))  # fmt: skip
    store = str(tmp_path / "runs.db")
    common = ["--data", str(data), "--store", store, "--samples", "3", "--json"]
    toy = invoke("eval", *common, "--strategy", "fewest_steps")
    assert (toy["n"], toy["correct"], toy["status"]) == (3, 1, "complete")  # only 0 + 0 = 0
    bon = invoke("eval", *common, "--strategy", "best_of_n", "--scorer", "toy")
    assert (bon["n"], bon["correct"]) == (3, 3)
    rescored = invoke("rescore", toy["run_id"], "--scorer", "toy", "--store", store, "--json")
    assert (rescored["source"], rescored["n"], rescored["correct"]) == (toy["run_id"], 3, 3)
    summed = invoke("rescore", toy["run_id"], "--scorer", "toy", "--store", store,
                    "--select", "weighted", "--json")  # fmt: skip
    # 0 + 0: two samples say 0 (0.55 + 0.6) against one 1 (0.6); elsewhere the longer win.
    assert (summed["select"], summed["accuracy"], summed["correct"]) == ("weighted", 1.0, 3)
    assert summed["run_id"] != rescored["run_id"]
    said = runner.invoke(app, ["rescore", toy["run_id"], "--scorer", "toy", "--store", store])
    assert said.stdout.strip() == (
        f"{rescored['run_id']}: best of {toy['run_id']}'s samples by toy: accuracy 100.0% (3/3); "
        "the source's 33.3%"
    )
    wrong = runner.invoke(app, ["rescore", toy["run_id"], "--scorer", "toy", "--store", store,
                                "--select", "majority"])  # fmt: skip
    assert (wrong.exit_code, wrong.stderr.strip()) == (
        2, "error: unknown --select 'majority'; use best or weighted")  # fmt: skip

    out = runner.invoke(app, ["report", toy["run_id"], bon["run_id"], rescored["run_id"],
                              summed["run_id"], "--store", store])  # fmt: skip
    assert out.exit_code == 0, out.output
    table = out.stdout.split("\n\n")[0].splitlines()[2:]  # the first table, header cut
    rows = [line.split(" | ") for line in table]
    assert [(row[1], row[3], row[4].split(" ")[0]) for row in rows] == [
        ("scripted fewest_steps@3", "3", "33.3"),
        ("scripted best_of_n@3+toy", "3", "100.0"),
        ("scripted best_of_n@3+toy", "3", "100.0"),
        ("scripted best_of_n@3+toy weighted", "3", "100.0"),
    ]
    assert f"{bon['run_id']} (scripted best_of_n@3+toy) dominates {toy['run_id']}" in out.stdout
