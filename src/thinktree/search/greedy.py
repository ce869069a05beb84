"""Greedy decoding: one trajectory, one step per round, temperature 0 by default."""

from __future__ import annotations

from thinktree.search.base import ProblemSearch
from thinktree.search.expand import Expansion
from thinktree.search.result import SolveResult, Trajectory
from thinktree.steps import Step, StepKind


class GreedySearch(ProblemSearch):
    default_temperature = 0.0
    budget_field = None

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.steps: list[Step] = []

    def next_expansions(self) -> list[Expansion]:
        if self.branch_ends(self.steps):
            return []
        return [self.expansion(self.steps, 1, len(self.steps))]

    def absorb(self, expansions: list[Expansion]) -> None:
        self.steps = [*self.steps, expansions[0].candidates[0]]

    def result(self, stop_reason: str) -> SolveResult:
        last = self.steps[-1] if self.steps else None
        answer = last.answer if last is not None and last.kind is StepKind.FINAL else None
        return self.solve_result(
            stop_reason,
            answer,
            [Trajectory(self.steps, answer)],
            [answer],
        )

    def progress(self) -> dict[str, object]:
        return {"steps": len(self.steps)}
