"""Plain chain-of-thought chat: the reference figure a user would otherwise pick.

The model is prompted as Qwen2.5-Math's own evaluation prompts its instruct models
for chain-of-thought (its ``qwen25-math-cot`` prompt): :data:`SYSTEM_PROMPT` as the
system message and the problem as the user message, in the model's own chat template
(the engine's ``render_chat``). One completion of up to ``completion_tokens`` tokens,
greedy unless ``temperature`` says otherwise and ended by the model's end-of-turn
token (no stop string), answers the problem; no cell is written and the sandbox is
never asked.

The answer is the last ``\\boxed{}`` of the completion (:func:`boxed_answer`); a
completion without one answers nothing. The result is one trajectory of one step
whose text is the whole completion and which holds no code: a final step, or an
invalid one when unanswered. Nothing that learns from code trajectories reads such
a run: SFT data comes from MCTS trees only, PPM pairs from trees and from runs of
independent samples, and this search stores no tree and is no sampling run.
"""

from __future__ import annotations

from dataclasses import replace

from pydantic import Field

from thinktree.grading.extract import last_boxed
from thinktree.search.base import ProblemSearch
from thinktree.search.expand import Expansion
from thinktree.search.options import BaseSearchConfig, StrategyOptions
from thinktree.search.result import SolveResult, Trajectory
from thinktree.steps import ParsedStep, PromptStyle, RenderChat, Step, StepKind, StepPrompt

SYSTEM_PROMPT = "Please reason step by step, and put your final answer within \\boxed{}."
"""Qwen2.5-Math's chain-of-thought system message (its evaluation's ``qwen25-math-cot``)."""

BOX_COMMANDS = ("\\boxed", "\\fbox")
"""The commands that box an answer (the grader's, :mod:`thinktree.grading.extract`)."""

UNREAD = frozenset(
    {
        "samples",
        "k",
        "max_step_tokens",
        "max_steps",
        "errors_threshold",
        "exec_timeout",
        "cell_prelude",
        "settle_m",
        "settle_confidence",
        "c_uct",
        "unvisited_first",
    }
)
"""Fields this search never reads: one completion, no steps, no cells, no vote, no tree
(MCTS's ``c_uct`` and ``unvisited_first`` included, which older strategies record)."""


class ChatCotOptions(StrategyOptions):
    """The option only chat_cot reads."""

    # Rule: Qwen2.5-Math's evaluation (evaluation/math_eval.py, max_tokens_per_call);
    # not measured here.
    completion_tokens: int = Field(2048, ge=16, le=32768)
    """chat_cot: tokens its one completion may use; 2048 is where Qwen2.5-Math's own
    evaluation cuts, so the figure compares with the one it reports."""


def completion_tokens(config: BaseSearchConfig) -> int:
    """``config``'s ``completion_tokens`` (its default where it holds no chat_cot options)."""
    options = config.options
    if isinstance(options, ChatCotOptions):
        return options.completion_tokens
    return ChatCotOptions().completion_tokens


def boxed_answer(text: str) -> str | None:
    """The content of the last complete ``\\boxed{...}`` of ``text``, braces nested to any
    depth (boxes right beside it joined as the grader joins them:
    :func:`thinktree.grading.extract.last_boxed`); None where there is no box or the
    last one never closes, a completion cut off inside its answer."""
    last = max(text.rfind(command) for command in BOX_COMMANDS)
    if last < 0 or last_boxed(text[last:]) is None:
        return None
    return last_boxed(text)


def parse_solution(text: str) -> ParsedStep:
    """A whole chain-of-thought completion as one step: final with its boxed answer,
    invalid without one; never code."""
    answer = boxed_answer(text)
    kind = StepKind.INVALID if answer is None else StepKind.FINAL
    return ParsedStep(text, kind, None, answer)


class ChatCotSearch(ProblemSearch):
    options_model = ChatCotOptions
    default_temperature = 0.0
    budget_field = None

    @classmethod
    def build_prompt(cls, question: str, render_chat: RenderChat, style: PromptStyle) -> StepPrompt:
        """Qwen2.5-Math's chain-of-thought chat, whatever the policy's step prompt style."""
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": question.strip()},
        ]
        return StepPrompt(render_chat(messages))

    @classmethod
    def unread_fields(cls, config: BaseSearchConfig, scored: bool) -> frozenset[str]:
        greedy = config.sampling_temperature(cls.default_temperature) == 0
        return UNREAD | {"top_p"} if greedy else UNREAD

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.steps: list[Step] = []

    def next_expansions(self) -> list[Expansion]:
        if self.steps:
            return []
        first = self.expansion([], 1, 0)
        return [
            replace(first, max_tokens=completion_tokens(self.config), stop=(), parse=parse_solution)
        ]

    def absorb(self, expansions: list[Expansion]) -> None:
        self.steps = list(expansions[0].candidates[:1])

    def result(self, stop_reason: str) -> SolveResult:
        answer = self.steps[0].answer if self.steps else None
        return self.solve_result(stop_reason, answer, [Trajectory(self.steps, answer)], [answer])

    def progress(self) -> dict[str, object]:
        return {"tokens": self.usage.generated_tokens}
