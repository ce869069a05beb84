"""Step-level beam search: keep the ``samples`` best partial solutions by score.

Each round every live beam is extended by ``k`` candidate steps (one engine call
per beam, duplicates dropped); the scorer values every candidate; candidates
that end their branch with an answer are set aside as finished, and the best
``samples`` of the others (by score, ties to the earlier candidate) become the
next beams. The search stops when ``samples`` solutions are finished or no beam
is left; the answer is the finished solution with the highest score.
"""

from __future__ import annotations

from thinktree.search.base import ProblemSearch
from thinktree.search.expand import Expansion
from thinktree.search.options import BaseSearchConfig
from thinktree.search.result import SolveResult, Trajectory
from thinktree.steps import Step, StepKind


class BeamSearch(ProblemSearch):
    needs_learned_scorer = True
    takes_shipped_verifier = True

    @classmethod
    def width(cls, config: BaseSearchConfig) -> int:
        return config.samples * config.candidates

    @classmethod
    def trajectories(cls, config: BaseSearchConfig) -> float:
        return float(config.samples * config.candidates)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.beams: list[list[Step]] = [[]]
        self.finished: list[tuple[list[Step], float]] = []
        self.dropped: list[tuple[list[Step], float]] = []

    def next_expansions(self) -> list[Expansion]:
        if len(self.finished) >= self.config.samples:
            return []
        expansions = [
            self.expansion(
                beam, self.config.candidates, "beam", len(beam), i, tag=i, want_scores=True
            )
            for i, beam in enumerate(self.beams)
        ]
        for expansion in expansions:
            expansion.dedupe = True
        return expansions

    def absorb(self, expansions: list[Expansion]) -> None:
        live: list[tuple[float, int, list[Step]]] = []
        order = 0
        for expansion in expansions:
            for candidate, score in zip(expansion.candidates, expansion.scores or [], strict=True):
                steps = [*expansion.steps, candidate]
                value = float(score if score is not None else -1.0)
                if candidate.kind is StepKind.FINAL:
                    self.finished.append((steps, value))
                elif self.branch_ends(steps):
                    self.dropped.append((steps, value))
                else:
                    live.append((value, -order, steps))
                order += 1
        live.sort(key=lambda item: (item[0], item[1]), reverse=True)
        self.beams = [steps for _, _, steps in live[: self.config.samples]]

    def result(self, stop_reason: str) -> SolveResult:
        ranked = sorted(self.finished, key=lambda item: -item[1])
        answer = ranked[0][0][-1].answer if ranked else None
        trajectories = [Trajectory(steps, steps[-1].answer, value) for steps, value in ranked]
        votes: dict[str, float] = {}
        for steps, value in ranked:
            key = steps[-1].answer or ""
            votes.setdefault(key, round(value, 6))
        return self.solve_result(
            stop_reason,
            answer,
            trajectories,
            [steps[-1].answer for steps, _ in self.finished],
            votes=votes,
        )

    def progress(self) -> dict[str, object]:
        return {"beams": len(self.beams), "finished": len(self.finished)}
