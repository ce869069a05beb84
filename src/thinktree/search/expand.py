"""Turn expansion requests into executed candidate steps, in batches.

One call of :meth:`StepExpander.expand` sends one batch to the engine (every
request of every problem), one batch of cells to the sandbox and, when asked,
one batch to the scorer: the lock-step of the design.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from thinktree.engines.base import Completion, CompletionRequest, Engine
from thinktree.reward.base import ScoreItem, StepScorer
from thinktree.search.options import BaseSearchConfig
from thinktree.steps import (
    CELL_PRELUDE,
    STOP_STRINGS,
    ParsedStep,
    Step,
    StepKind,
    StepPrompt,
    dedupe_key,
    executed_cells,
    format_output,
    parse_step,
)


class CellRunner(Protocol):
    """What the expander needs of :class:`thinktree.sandbox.Sandbox`."""

    def run_batch(
        self, trajectories: list[list[str]], timeout: float | None = None
    ) -> list[Any]: ...


@dataclass
class Expansion:
    """Extend one trajectory by ``n`` candidate steps; the expander fills the rest."""

    prompt: StepPrompt
    steps: list[Step]
    n: int
    seed: int
    temperature: float
    tag: Any = None
    question: str = ""
    problem_id: str = ""
    want_scores: bool = False
    score_final_only: bool = False
    """Score only candidates that state a final answer (best-of-N)."""
    dedupe: bool = False
    """Drop candidates that repeat an earlier sibling (same code without comments and
    whitespace, or same answer) before they are executed and scored."""
    seen: frozenset[str] = frozenset()
    """Dedupe keys of siblings from earlier rounds (resampling): with ``dedupe``, a
    candidate that repeats one of them is dropped too."""
    max_tokens: int | None = None
    """Tokens each candidate may use; None: the config's ``max_step_tokens`` (one step)."""
    stop: tuple[str, ...] = STOP_STRINGS
    """Where a candidate ends: by default before the step format's ``Output:``."""
    parse: Callable[[str], ParsedStep] = parse_step
    """How a candidate's text becomes a step (by default the step format's rules); only
    a step with code is run in the sandbox."""
    candidates: list[Step] = field(default_factory=list)
    scores: list[float | None] | None = None
    prompt_tokens: int = 0
    cached_tokens: int = 0
    generated_tokens: int = 0
    request_prompt_tokens: int = 0
    """Prompt tokens evaluated for the request (its first completion), and below,
    those reused from cache: the request's prompt counted once, not per sibling."""
    request_cached_tokens: int = 0
    prompt_seconds: float = 0.0
    """Server time spent evaluating this request's prompt."""
    engine_seconds: float = 0.0
    """This expansion's share of the batch's engine, sandbox and scorer wall time."""
    exec_seconds: float = 0.0
    score_seconds: float = 0.0


def step_from_completion(
    completion: Completion, parse: Callable[[str], ParsedStep] = parse_step
) -> Step:
    if completion.error is not None:
        return Step(text="", kind=StepKind.INVALID, error=completion.error, finish_reason="error")
    parsed = parse(completion.text)
    return Step(
        text=parsed.text,
        kind=parsed.kind,
        code=parsed.code,
        answer=parsed.answer,
        tokens=completion.generated_tokens,
        mean_logprob=completion.mean_logprob,
        finish_reason=completion.finish_reason,
    )


def unique_steps(steps: list[Step], seen: frozenset[str] = frozenset()) -> list[Step]:
    """``steps`` without repeats of each other or of the keys in ``seen``, in order."""
    known = set(seen)
    unique = []
    for step in steps:
        key = dedupe_key(step)
        if key not in known:
            known.add(key)
            unique.append(step)
    return unique


def record_execution(step: Step, outcome: Any, timeout: float, seconds: float) -> None:
    """Fill a step from its cell's sandbox result: a cell that raised or timed out
    makes the step an error step whose output is the error text (so the next step
    may repair it); otherwise the output is what the cell printed."""
    step.exec_seconds = seconds
    if outcome.timed_out:
        step.kind = StepKind.ERROR
        step.error = f"TimeoutError: the cell ran longer than {timeout:g} s"
    elif outcome.error:
        step.kind = StepKind.ERROR
        step.error = outcome.error
    step.output = format_output(step.error if step.error else outcome.stdout)


class StepExpander:
    def __init__(
        self,
        engine: Engine,
        sandbox: CellRunner,
        config: BaseSearchConfig,
        scorer: StepScorer | None = None,
    ) -> None:
        self.engine = engine
        self.sandbox = sandbox
        self.config = config
        self.scorer = scorer

    def _request(self, expansion: Expansion) -> CompletionRequest:
        max_tokens = expansion.max_tokens
        return CompletionRequest(
            prompt=expansion.prompt.prompt(expansion.steps),
            max_tokens=self.config.max_step_tokens if max_tokens is None else max_tokens,
            temperature=expansion.temperature,
            top_p=self.config.top_p if expansion.temperature > 0 else 1.0,
            stop=expansion.stop,
            seed=expansion.seed,
            n=expansion.n,
            logprobs=1 if self.config.logprobs else 0,
        )

    def expand(self, expansions: Sequence[Expansion]) -> None:
        if not expansions:
            return
        started = time.perf_counter()
        results = self.engine.complete([self._request(e) for e in expansions])
        engine_seconds = time.perf_counter() - started
        pending: list[tuple[Step, list[str]]] = []
        for expansion, completions in zip(expansions, results, strict=True):
            expansion.engine_seconds = engine_seconds / len(expansions)
            expansion.request_prompt_tokens = completions[0].prompt_tokens if completions else 0
            expansion.request_cached_tokens = completions[0].cached_tokens if completions else 0
            expansion.prompt_seconds = sum(c.prompt_seconds for c in completions)
            expansion.candidates = [step_from_completion(c, expansion.parse) for c in completions]
            if expansion.dedupe:
                expansion.candidates = unique_steps(expansion.candidates, expansion.seen)
            expansion.prompt_tokens = sum(c.prompt_tokens for c in completions)
            expansion.cached_tokens = sum(c.cached_tokens for c in completions)
            expansion.generated_tokens = sum(c.generated_tokens for c in completions)
            state = executed_cells(expansion.steps)
            if self.config.cell_prelude:
                state = [CELL_PRELUDE, *state]
            for step in expansion.candidates:
                if step.kind is StepKind.CODE and step.code is not None:
                    pending.append((step, [*state, step.code]))
        started = time.perf_counter()
        self._execute(pending)
        exec_seconds = time.perf_counter() - started
        started = time.perf_counter()
        self._score(expansions)
        score_seconds = time.perf_counter() - started
        for expansion in expansions:
            expansion.exec_seconds = exec_seconds / len(expansions)
            expansion.score_seconds = score_seconds / len(expansions)

    def _execute(self, pending: list[tuple[Step, list[str]]]) -> None:
        if not pending:
            return
        timeout = self.config.exec_timeout
        started = time.perf_counter()
        outcomes = self.sandbox.run_batch([cells for _, cells in pending], timeout=timeout)
        share = (time.perf_counter() - started) / len(pending)
        for (step, _), outcome in zip(pending, outcomes, strict=True):
            record_execution(step, outcome, timeout, share)

    def _score(self, expansions: Sequence[Expansion]) -> None:
        if self.scorer is None:
            return
        # An invalid step ends its branch with value -1 whatever a scorer says.
        wanted = [
            (e, c)
            for e in expansions
            if e.want_scores
            for c in e.candidates
            if c.kind is not StepKind.INVALID
            and (not e.score_final_only or c.kind is StepKind.FINAL)
        ]
        if not wanted:
            return
        values = self.scorer.score(
            [ScoreItem(e.question, [*e.steps, c], e.problem_id) for e, c in wanted]
        )
        by_step = {id(c): v for (_, c), v in zip(wanted, values, strict=True)}
        for expansion in expansions:
            if expansion.want_scores:
                expansion.scores = [by_step.get(id(c)) for c in expansion.candidates]
