"""The strategy interface: a per-problem search that the driver advances in lock step.

A strategy is a :class:`ProblemSearch` subclass registered by name. The driver
asks every active search for the expansions it wants now, serves all of them in
one batch (engine, then sandbox, then scorer), hands each search its own back,
and repeats until every search is done. Budgets (tokens, seconds) are checked
by the driver before each round, so every strategy honours them the same way.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from thinktree.engines.base import Engine
from thinktree.problems import Problem
from thinktree.reward.base import NullScorer, Scorer, is_scored, step_scorer
from thinktree.search.expand import CellRunner, Expansion
from thinktree.search.options import DEFAULT_K, BaseSearchConfig, StrategyOptions
from thinktree.search.result import SolveResult, Trajectory, Usage
from thinktree.search.seeds import derive_seed
from thinktree.steps import PromptStyle, RenderChat, Step, StepPrompt, build_step_prompt, end_reason


class AnswerJudge(Protocol):
    """Decides answer equality (for voting) and correctness (for outcome rewards)."""

    def same(self, a: str, b: str) -> bool: ...

    def correct(self, answer: str, gold: str) -> bool: ...


@dataclass
class SearchContext:
    engine: Engine
    sandbox: CellRunner
    config: BaseSearchConfig
    """The search (a :class:`thinktree.search.config.SearchConfig`)."""
    judge: AnswerJudge
    scorer: Scorer = field(default_factory=NullScorer)
    prompt_style: PromptStyle = PromptStyle.FEW_SHOT
    """How the policy is prompted: few-shot, or zero-shot for a fine-tuned policy."""


class ProblemSearch(ABC):
    """The state of one strategy on one problem.

    Besides the per-problem methods, a strategy declares, as class-level facts read
    before any search runs: its own options (:attr:`options_model`), the settle
    rules it accepts (:attr:`settle_rules`), whether it needs a learned scorer
    (:attr:`needs_learned_scorer`) and takes a shipped one by default
    (:attr:`takes_shipped_verifier`), its :meth:`width` (engine slots and lock-step
    window), its :meth:`trajectories` (up-front token and time estimates), its
    :attr:`budget_field` (run names, report labels:
    :func:`thinktree.search.registry.run_label`), whether its trajectories are
    :attr:`independent_samples` (``rescore``), which fields it never reads
    (:meth:`unread_fields`, run fingerprints: :mod:`thinktree.search.identity`),
    how the defaults that depend on the scorer are decided (:meth:`resolve`), what
    the command line should say before it runs (:meth:`notice`) and how it prompts
    the policy (:meth:`build_prompt`). Its
    name is the one it is registered under in
    :data:`thinktree.search.registry.STRATEGIES`.
    """

    options_model: ClassVar[type[StrategyOptions]] = StrategyOptions
    """The model of this strategy's own options (``config.options``); a field of
    another strategy's model is refused for it
    (:class:`thinktree.search.config.SearchConfig`)."""
    settle_rules: ClassVar[frozenset[str]] = frozenset({"off"})
    """The ``settle`` rules this strategy honours; any other is refused."""
    needs_learned_scorer: ClassVar[bool] = False
    """It cannot choose without a scorer that values steps (a PPM)."""
    takes_shipped_verifier: ClassVar[bool] = False
    """Given no ``--scorer``, it scores with the verifier shipped with the model, where
    one ships (:func:`thinktree.reward.registry.shipped_verifier`)."""
    default_temperature: ClassVar[float] = 0.7
    stored_default_temperature: ClassVar[float | None] = None
    """The default temperature this strategy's stored runs were made with, where the
    default has changed since (None: it never has). A stored run's null temperature
    means that value (:mod:`thinktree.search.identity`)."""
    budget_field: ClassVar[str | None] = "samples"
    """The config field that sizes this search (``samples``: samples, rollouts or
    beams), shown in run names and report labels; None for a search of fixed size."""
    independent_samples: ClassVar[bool] = False
    """Its trajectories are independent samples of the question, so a scorer may pick
    among stored ones afterwards (``thinktree rescore``)."""

    @classmethod
    def width(cls, config: BaseSearchConfig) -> int:
        """Completions one problem asks for at once (the siblings of one round)."""
        return 1

    @classmethod
    def trajectories(cls, config: BaseSearchConfig) -> float:
        """Trajectories one problem is expected to cost: the up-front estimate of its
        tokens is this many times a data set's typical trajectory."""
        return 1.0

    @classmethod
    def resolve(cls, config: BaseSearchConfig, scored: bool) -> BaseSearchConfig:
        """``config`` with its scorer-dependent defaults decided, for a search with a
        scorer (``scored``) or without: here only ``k``, at :data:`DEFAULT_K`."""
        return config if config.k is not None else config.model_copy(update={"k": DEFAULT_K})

    @classmethod
    def check_scorer(cls, name: str, scorer: Scorer) -> None:
        """A one-line ValueError where this strategy (registered as ``name``) needs a
        learned scorer and ``scorer`` is none."""
        if cls.needs_learned_scorer and step_scorer(scorer) is None:
            raise ValueError(f"{name} needs a learned scorer, e.g. --scorer ppm:DIR")

    @classmethod
    def notice(cls, config: BaseSearchConfig, scorer: type[Scorer]) -> str | None:
        """One line the command line says (stderr) before this search runs with a
        scorer of class ``scorer``, where what the search does would surprise; None
        (nothing to say) by default."""
        return None

    @classmethod
    def build_prompt(cls, question: str, render_chat: RenderChat, style: PromptStyle) -> StepPrompt:
        """The prompt this strategy's search of ``question`` extends, in the model's chat
        template (``render_chat``): by default the step format's, in ``style``."""
        return build_step_prompt(question, render_chat, style)

    @classmethod
    def unread_fields(cls, config: BaseSearchConfig, scored: bool) -> frozenset[str]:
        """Fields of ``config`` (resolved) that this strategy never reads with a scorer
        (``scored``) or without: run fingerprints leave them out
        (:mod:`thinktree.search.identity`). An old strategy names only fields added
        after its runs were stored, so those runs keep their fingerprints."""
        return frozenset()

    def __init__(self, problem: Problem, prompt: StepPrompt, ctx: SearchContext) -> None:
        self.problem = problem
        self.prompt = prompt
        self.ctx = ctx
        self.config = self.resolve(ctx.config, scored=is_scored(ctx.scorer))
        self.check_scorer(self.config.strategy, ctx.scorer)
        self.usage = Usage()
        self.started = time.perf_counter()

    @property
    def temperature(self) -> float:
        return self.config.sampling_temperature(self.default_temperature)

    def expansion(
        self,
        steps: list[Step],
        n: int,
        *seed_path: int | str,
        tag: object = None,
        want_scores: bool = False,
        temperature: float | None = None,
    ) -> Expansion:
        return Expansion(
            prompt=self.prompt,
            steps=steps,
            n=n,
            seed=derive_seed(self.config.seed, self.problem.id, *seed_path),
            temperature=self.temperature if temperature is None else temperature,
            tag=tag,
            question=self.problem.question,
            problem_id=self.problem.id,
            want_scores=want_scores,
        )

    def end_reason(self, steps: list[Step]) -> str | None:
        """Why a branch ends here (:func:`thinktree.steps.end_reason`), or None."""
        return end_reason(steps, self.config.errors_threshold, self.config.max_steps)

    def branch_ends(self, steps: list[Step]) -> bool:
        return self.end_reason(steps) is not None

    def budget_exhausted(self) -> str | None:
        if (
            self.config.max_tokens is not None
            and self.usage.generated_tokens >= self.config.max_tokens
        ):
            return "max_tokens"
        if self.config.max_seconds is not None and self.elapsed() >= self.config.max_seconds:
            return "max_seconds"
        return None

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def account(self, expansions: list[Expansion]) -> None:
        for e in expansions:
            self.usage.generated_tokens += e.generated_tokens
            self.usage.prompt_tokens += e.prompt_tokens
            self.usage.cached_tokens += e.cached_tokens
            self.usage.request_prompt_tokens += e.request_prompt_tokens
            self.usage.request_cached_tokens += e.request_cached_tokens
            self.usage.engine_calls += 1
            self.usage.prompt_seconds += e.prompt_seconds
            self.usage.engine_seconds += e.engine_seconds
            self.usage.exec_seconds += e.exec_seconds
            self.usage.score_seconds += e.score_seconds

    @abstractmethod
    def next_expansions(self) -> list[Expansion]:
        """What to expand now; an empty list means the search is complete."""

    @abstractmethod
    def absorb(self, expansions: list[Expansion]) -> None:
        """Take back this search's expansions with their candidates (and scores)."""

    @abstractmethod
    def result(self, stop_reason: str) -> SolveResult:
        """The answer and everything explored so far (built with :meth:`solve_result`)."""

    def solve_result(
        self,
        stop_reason: str,
        answer: str | None,
        trajectories: list[Trajectory],
        sample_answers: list[str | None],
        **fields: Any,
    ) -> SolveResult:
        """This search's result: its problem, registered name, usage and time filled in."""
        return SolveResult(
            problem_id=self.problem.id,
            strategy=self.config.strategy,
            answer=answer,
            trajectories=trajectories,
            usage=self.usage,
            seconds=self.elapsed(),
            stop_reason=stop_reason,
            sample_answers=sample_answers,
            **fields,
        )

    def progress(self) -> dict[str, object]:
        """A few live figures for progress displays (rollouts, tree size, leader)."""
        return {}
