"""Building search contexts on the scripted engine for exact unit tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from thinktree.engines.scripted import LogprobScript, ScriptedEngine
from thinktree.problems import Problem
from thinktree.reward.base import NullScorer, ScoreItem, Scorer, StepScorer
from thinktree.search import SearchConfig, SearchContext, SolveResult, run_search
from thinktree.search.judge import GraderJudge


class TableScorer(StepScorer):
    """A learned-scorer stand-in for unit tests: a fixed value per last-step text."""

    name = "table"

    def __init__(self, table: Callable[[ScoreItem], float]) -> None:
        self.table = table
        self.calls: list[int] = []

    def score(self, items: Sequence[ScoreItem]) -> list[float]:
        self.calls.append(len(items))
        return [self.table(item) for item in items]


class NoSandbox:
    """A sandbox for searches that never run a cell (chat_cot): any call fails the test."""

    def run_batch(self, trajectories: list[list[str]], timeout: float | None = None) -> list:
        raise AssertionError("a search that writes no cell asked the sandbox to run one")


def solve_scripted(
    script: Callable[..., str],
    sandbox: object,
    grader: object,
    problems: Sequence[Problem],
    scorer: Scorer | None = None,
    window: int = 4,
    logprob: LogprobScript | None = None,
    **config: object,
) -> tuple[list[SolveResult], ScriptedEngine]:
    engine = ScriptedEngine(script) if logprob is None else ScriptedEngine(script, logprob=logprob)
    ctx = SearchContext(
        engine=engine,
        sandbox=sandbox,  # type: ignore[arg-type]
        config=SearchConfig(**config),  # type: ignore[arg-type]
        judge=GraderJudge(grader),  # type: ignore[arg-type]
        scorer=scorer or NullScorer(),
    )
    return run_search(problems, ctx, window=window), engine
