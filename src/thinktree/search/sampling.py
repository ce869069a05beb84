"""Independent samples: self-consistency (majority vote) and best-of-N (scorer picks).

The first step of all N samples comes from one engine call with ``n = N`` (the
question's prompt is evaluated once); afterwards each unfinished sample is
extended by one step per round. Samples are seeded by (run seed, problem,
sample index, depth).
"""

from __future__ import annotations

from thinktree.search.base import ProblemSearch
from thinktree.search.expand import Expansion
from thinktree.search.result import SolveResult, Trajectory
from thinktree.search.voting import majority_vote
from thinktree.steps import Step, StepKind


def final_answer(steps: list[Step]) -> str | None:
    if steps and steps[-1].kind is StepKind.FINAL:
        return steps[-1].answer
    return None


class SamplingSearch(ProblemSearch):
    name = "sc"
    score_finals = False

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.samples: list[list[Step]] = []
        self.final_scores: dict[int, float] = {}

    def next_expansions(self) -> list[Expansion]:
        if not self.samples:
            wanted = [self.expansion([], self.config.samples, "first", tag=None)]
        else:
            wanted = [
                self.expansion(steps, 1, "sample", i, len(steps), tag=i)
                for i, steps in enumerate(self.samples)
                if not self.branch_ends(steps)
            ]
        for expansion in wanted:
            expansion.want_scores = self.score_finals
            expansion.score_final_only = True
        return wanted

    def absorb(self, expansions: list[Expansion]) -> None:
        if not self.samples:
            first = expansions[0]
            self.samples = [[c] for c in first.candidates]
            self._keep_scores(first, list(range(len(first.candidates))))
            return
        for expansion in expansions:
            self.samples[expansion.tag].append(expansion.candidates[0])
            self._keep_scores(expansion, [expansion.tag])

    def _keep_scores(self, expansion: Expansion, indices: list[int]) -> None:
        if expansion.scores is None:
            return
        for index, score in zip(indices, expansion.scores, strict=True):
            if score is not None:
                self.final_scores[index] = score

    def choose(self, answers: list[str | None]) -> tuple[str | None, dict[str, float]]:
        return majority_vote(answers, self.ctx.judge.same)

    def result(self, stop_reason: str) -> SolveResult:
        answers = [final_answer(s) for s in self.samples]
        answer, votes = self.choose(answers)
        trajectories = [
            Trajectory(steps, a, self.final_scores.get(i))
            for i, (steps, a) in enumerate(zip(self.samples, answers, strict=True))
        ]
        return SolveResult(
            problem_id=self.problem.id,
            strategy=self.name,
            answer=answer,
            trajectories=trajectories,
            usage=self.usage,
            seconds=self.elapsed(),
            stop_reason=stop_reason,
            sample_answers=answers,
            votes=votes,
        )

    def progress(self) -> dict[str, object]:
        done = sum(1 for s in self.samples if self.branch_ends(s))
        return {"samples": f"{done}/{self.config.samples}"}


class SelfConsistencySearch(SamplingSearch):
    name = "sc"


class BestOfNSearch(SamplingSearch):
    """N samples; the scorer's value of each final answer picks the winner."""

    name = "best_of_n"
    score_finals = True

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if self.ctx.scorer.kind != "learned":
            raise ValueError("best_of_n needs a learned scorer, e.g. --scorer ppm:DIR")

    def choose(self, answers: list[str | None]) -> tuple[str | None, dict[str, float]]:
        scored = [
            (self.final_scores[i], -i, a)
            for i, a in enumerate(answers)
            if a is not None and i in self.final_scores
        ]
        if not scored:
            return None, {}
        best = max(scored)
        votes: dict[str, float] = {}
        for score, _, answer in scored:
            votes[answer] = max(votes.get(answer, -1.0), round(score, 6))
        return best[2], votes
