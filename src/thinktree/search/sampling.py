"""Independent samples: self-consistency (majority vote) and best-of-N (scorer picks).

The first step of all N samples comes from one engine call with ``n = N`` (the
question's prompt is evaluated once); afterwards each unfinished sample is
extended by one step per round. Samples are seeded by (run seed, problem,
sample index, depth).

Adaptive compute (``settle``, self-consistency only): samples are drawn in waves
of ``settle_m`` (the first wave's first steps from one call seeded as the single
call above, later waves' seeded by (``"wave"``, index of their first sample)).
When every sample of the waves so far has ended, the answers (in sample order)
are checked by :func:`thinktree.search.settle.settled`; settled, the search stops
with ``stop_reason = "settled"`` and ``extra["samples"]`` says how many were
drawn. Otherwise the next wave starts; under ``"agree"``, once the first
``settle_m`` answers disagree nothing can settle, so all remaining samples start
at once. Under ``"decided"`` a wave is the fewest samples that could decide the vote
over all N (N/2 rounded up first, for example), so no drawn sample could have been
spared. Under ``"confident"`` the first wave is one sample, settled alone when its
token probability is high enough; then waves as under ``"decided"``. Best-of-N never
settles (its ``settle_rules`` hold only ``"off"``): its scorer, not a vote, picks the
answer.

Dropping unsure samples (``step_floor``, self-consistency only, with or without
settling): a sample ends at its first step whose mean token probability is below
the floor and answers nothing, so the vote and the settle rules see no answer from
it; ``extra["dropped"]`` counts them.
"""

from __future__ import annotations

import operator
from typing import ClassVar

from pydantic import Field

from thinktree.search.base import ProblemSearch
from thinktree.search.expand import Expansion
from thinktree.search.options import BaseSearchConfig, StrategyOptions
from thinktree.search.result import SolveResult, Trajectory
from thinktree.search.selection import best_scored
from thinktree.search.settle import SETTLE_RULES, settled, token_probability, wave_size
from thinktree.search.voting import majority_vote
from thinktree.steps import Step, StepKind


def final_answer(steps: list[Step]) -> str | None:
    if steps and steps[-1].kind is StepKind.FINAL:
        return steps[-1].answer
    return None


class SelfConsistencyOptions(StrategyOptions):
    """The option only self-consistency reads."""

    refusals: ClassVar[dict[str, str]] = {
        "step_floor": "--step-floor drops unsure sc samples; {strategy} has none to drop"
        " (use --strategy sc or leave it out)"
    }

    # Rule: thinktree, after DeepConf's online mode. Measured: § step_floor (BENCHMARKS.md).
    step_floor: float | None = Field(None, gt=0.0, lt=1.0)
    """sc: drop a sample at its first step whose mean token probability is below this:
    it answers nothing and spends no more tokens (None: never; needs logprobs)."""


class SamplingSearch(ProblemSearch):
    score_finals = False
    independent_samples = True

    @classmethod
    def resolve(cls, config: BaseSearchConfig, scored: bool) -> BaseSearchConfig:
        if config.settle == "confident" and not config.logprobs:
            raise ValueError("--settle confident reads token log-probabilities; drop --no-logprobs")
        return super().resolve(config, scored)

    @classmethod
    def draws_waves(cls, config: BaseSearchConfig) -> bool:
        """Whether samples are drawn in waves: a search that settles (sc)."""
        return config.settle != "off" and config.settle in cls.settle_rules

    @classmethod
    def width(cls, config: BaseSearchConfig) -> int:
        if cls.draws_waves(config):
            # A settling search asks for its first wave at once (one sample under
            # "confident"), so eval's default window fills the slots with more
            # problems; later waves that outgrow them queue. Measured on 2 cores
            # (BENCHMARKS.md, "Wall time of adaptive compute"): the confident sc@4
            # generated 87 % of sc@4's tokens a second one problem at a time, 97 %
            # four at a time.
            return wave_size([], operator.eq, config.settle, config.settle_m, config.samples)
        return config.samples

    @classmethod
    def trajectories(cls, config: BaseSearchConfig) -> float:
        return float(config.samples)

    def step_floor(self) -> float | None:
        """The floor below which a sample is dropped (``step_floor``; None: never)."""
        return None

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.samples: list[list[Step]] = []
        self.final_scores: dict[int, float] = {}
        self.waves = self.draws_waves(self.config)
        self.settled = False

    def branch_ends(self, steps: list[Step]) -> bool:
        return super().branch_ends(steps) or self.dropped(steps)

    def dropped(self, steps: list[Step]) -> bool:
        """Whether a sample ends at its last step for being unsure (``step_floor``):
        every earlier step passed the floor, or the sample would have ended there."""
        floor = self.step_floor()
        if floor is None or not steps:
            return False
        probability = token_probability(steps[-1:])
        return probability is not None and probability < floor

    def answer_of(self, steps: list[Step]) -> str | None:
        """A sample's answer for the vote: its final answer, none where it was dropped."""
        return None if self.dropped(steps) else final_answer(steps)

    def next_expansions(self) -> list[Expansion]:
        if not self.samples:
            wanted = [self.expansion([], self.width(self.config), "first", tag=0)]
        else:
            wanted = [
                self.expansion(steps, 1, "sample", i, len(steps), tag=i)
                for i, steps in enumerate(self.samples)
                if not self.branch_ends(steps)
            ]
            if not wanted and self.waves:
                wanted = self._next_wave()
        for expansion in wanted:
            expansion.want_scores = self.score_finals
            expansion.score_final_only = True
        return wanted

    def _next_wave(self) -> list[Expansion]:
        answers = [self.answer_of(s) for s in self.samples]
        cfg = self.config
        remaining = cfg.samples - len(self.samples)
        if remaining <= 0:  # the full budget is spent: done, not settled
            return []
        if settled(
            answers, self.ctx.judge.same, cfg.settle, cfg.settle_m, cfg.settle_confidence,
            remaining, token_probability(self.samples[0]), cfg.settle_token_probability,
        ):  # fmt: skip
            self.settled = True
            return []
        start = len(self.samples)
        return [self.expansion([], self._wave_size(answers), "wave", start, tag=start)]

    def _wave_size(self, answers: list[str | None]) -> int:
        cfg = self.config
        return wave_size(answers, self.ctx.judge.same, cfg.settle, cfg.settle_m, cfg.samples)

    def absorb(self, expansions: list[Expansion]) -> None:
        if not self.samples or expansions[0].steps == []:
            wave = expansions[0]
            start = len(self.samples)
            self.samples.extend([c] for c in wave.candidates)
            self._keep_scores(wave, list(range(start, len(self.samples))))
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
        answers = [self.answer_of(s) for s in self.samples]
        answer, votes = self.choose(answers)
        if stop_reason == "done" and self.settled:
            stop_reason = "settled"
        extra: dict[str, object] = {"samples": len(self.samples)} if self.waves else {}
        if self.step_floor() is not None:
            extra["dropped"] = sum(map(self.dropped, self.samples))
        trajectories = [
            Trajectory(steps, a, self.final_scores.get(i))
            for i, (steps, a) in enumerate(zip(self.samples, answers, strict=True))
        ]
        return self.solve_result(
            stop_reason,
            answer,
            trajectories,
            answers,
            votes=votes,
            extra=extra,
        )

    def progress(self) -> dict[str, object]:
        done = sum(1 for s in self.samples if self.branch_ends(s))
        return {"samples": f"{done}/{self.config.samples}"}


class SelfConsistencySearch(SamplingSearch):
    options_model = SelfConsistencyOptions
    settle_rules = SETTLE_RULES

    @classmethod
    def resolve(cls, config: BaseSearchConfig, scored: bool) -> BaseSearchConfig:
        if cls.floor_of(config) is not None and not config.logprobs:
            raise ValueError("--step-floor reads token log-probabilities; drop --no-logprobs")
        return super().resolve(config, scored)

    @staticmethod
    def floor_of(config: BaseSearchConfig) -> float | None:
        options = config.options
        return options.step_floor if isinstance(options, SelfConsistencyOptions) else None

    def step_floor(self) -> float | None:
        return self.floor_of(self.config)


class BestOfNSearch(SamplingSearch):
    """N samples; the scorer's value of each final answer picks the winner."""

    score_finals = True
    needs_learned_scorer = True
    takes_shipped_verifier = True

    def choose(self, answers: list[str | None]) -> tuple[str | None, dict[str, float]]:
        return best_scored(
            [(a, self.final_scores[i]) for i, a in enumerate(answers)
             if a is not None and i in self.final_scores]
        )  # fmt: skip
