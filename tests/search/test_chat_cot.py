"""chat_cot: one greedy chain-of-thought chat completion, answered by its last box."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from tests.search.helpers import NoSandbox
from thinktree.engines.scripted import ScriptedEngine
from thinktree.problems import Problem
from thinktree.search import SearchConfig, SearchContext, SolveResult, run_search
from thinktree.search.chat_cot import ChatCotSearch, boxed_answer
from thinktree.search.identity import run_identity
from thinktree.search.judge import GraderJudge
from thinktree.search.registry import run_label, strategy_class
from thinktree.steps import PromptStyle, StepKind

QUESTION = "  What is 40 + 2?\n"
PROBLEM = Problem("q42", QUESTION, "42")
SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."


class ChatEngine(ScriptedEngine):
    """The scripted engine, recording the chat messages it renders."""

    def __init__(self, texts: Sequence[str]) -> None:
        queue = list(texts)
        super().__init__(lambda request, index: queue.pop(0))
        self.messages: list[list[dict[str, str]]] = []

    def render_chat(self, messages: Sequence[dict[str, str]]) -> str:
        self.messages.append([dict(m) for m in messages])
        return super().render_chat(messages)


def solve(
    grader: object,
    texts: Sequence[str],
    problems: Sequence[Problem] = (PROBLEM,),
    style: PromptStyle = PromptStyle.FEW_SHOT,
    strategy: str = "chat_cot",
    **config: object,
) -> tuple[list[SolveResult], ChatEngine]:
    engine = ChatEngine(texts)
    ctx = SearchContext(
        engine=engine,
        sandbox=NoSandbox(),
        config=SearchConfig(strategy=strategy, **config),  # type: ignore[arg-type]
        judge=GraderJudge(grader),  # type: ignore[arg-type]
        prompt_style=style,
    )
    return run_search(problems, ctx), engine


def test_a_boxed_answer_is_the_answer_of_one_final_step_without_code(grader) -> None:
    text = "First, 40 + 2 = 42.\nSo the answer is $\\boxed{42}$."
    (result,), engine = solve(grader, [text])
    assert result.answer == "42"
    assert result.sample_answers == ["42"]
    assert result.stop_reason == "done"
    (trajectory,) = result.trajectories
    (step,) = trajectory.steps
    assert trajectory.answer == "42"
    assert (step.text, step.kind, step.code, step.answer) == (text, StepKind.FINAL, None, "42")
    assert (step.output, step.error, step.tokens, step.finish_reason) == ("", None, 11, "stop")
    assert step.mean_logprob == -0.5
    assert result.usage.generated_tokens == 11  # whitespace-separated words
    assert result.usage.engine_calls == 1
    assert len(engine.calls) == 1


def test_it_asks_for_qwens_chain_of_thought_chat_greedily(grader) -> None:
    (_,), engine = solve(grader, ["\\boxed{42}"])
    assert engine.messages == [
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "What is 40 + 2?"}]
    ]
    ((request,),) = engine.calls
    assert request.prompt == (
        f"<system>\n{SYSTEM}\n</system>\n<user>\nWhat is 40 + 2?\n</user>\n<assistant>\n"
    )
    assert (request.max_tokens, request.temperature, request.top_p) == (2048, 0.0, 1.0)
    assert (request.stop, request.n, request.logprobs) == ((), 1, 1)
    (_,), greedy = solve(grader, ["Answer: \\boxed{42}"], strategy="greedy")
    assert request.seed == greedy.calls[0][0].seed  # seeded as greedy's first step


def test_the_policys_step_prompt_style_does_not_change_the_chat(grader) -> None:
    (_,), few = solve(grader, ["\\boxed{42}"])
    (_,), zero = solve(grader, ["\\boxed{42}"], style=PromptStyle.ZERO_SHOT)
    assert zero.calls[0][0].prompt == few.calls[0][0].prompt
    assert zero.messages == few.messages


def test_completion_tokens_cuts_the_completion(grader) -> None:
    words = [f"w{i}" for i in range(20)]
    text = " ".join(words) + " \\boxed{42}"
    (result,), engine = solve(grader, [text], completion_tokens=16, logprobs=False)
    ((request,),) = engine.calls
    assert (request.max_tokens, request.logprobs) == (16, 0)
    (step,) = result.trajectories[0].steps
    assert (step.text, step.kind, step.finish_reason) == (
        " ".join(words[:16]),
        StepKind.INVALID,
        "length",
    )
    assert step.mean_logprob is None
    assert result.answer is None


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("Half of one is $\\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}"),
        ("Try \\boxed{3}. That is wrong, so after checking: \\boxed{5}.", "5"),
        ("The roots are $\\boxed{2}$ and $\\boxed{-3}$.", "2, -3"),
        ("\\boxed{ {x \\mid x > 1} }", "{x \\mid x > 1}"),
        ("\\fbox{7}", "7"),
    ],
)
def test_the_answer_is_the_last_box_with_its_braces_balanced(text: str, answer: str) -> None:
    assert boxed_answer(text) == answer


@pytest.mark.parametrize(
    "text",
    [
        "The answer is 42.",
        "",
        "First \\boxed{41}, then the last box is cut off: \\boxed{\\frac{1}{2",
        "\\boxed{41} and at last an empty box \\boxed{}",
        "\\boxed 42",
    ],
)
def test_no_complete_last_box_is_no_answer(text: str) -> None:
    assert boxed_answer(text) is None


def test_a_completion_without_a_box_answers_nothing(grader) -> None:
    text = "40 + 2 is 42."
    (result,), _ = solve(grader, [text])
    assert result.answer is None
    assert result.sample_answers == [None]
    (step,) = result.trajectories[0].steps
    assert (step.text, step.kind, step.code, step.answer) == (text, StepKind.INVALID, None, None)


def test_a_fenced_cell_in_the_completion_is_text_not_code(grader) -> None:
    text = "We compute:\n```python\nprint(40 + 2)\n```\nwhich prints 42, so \\boxed{42}."
    (result,), _ = solve(grader, [text])
    (step,) = result.trajectories[0].steps
    assert (step.text, step.kind, step.code, step.output) == (text, StepKind.FINAL, None, "")
    assert result.answer == "42"


def test_a_request_that_fails_alone_answers_nothing(grader) -> None:
    engine = ChatEngine(["\\boxed{42}"])
    engine.max_prompt_words = 3
    ctx = SearchContext(engine, NoSandbox(), SearchConfig(strategy="chat_cot"), GraderJudge(grader))
    (result,) = run_search([PROBLEM], ctx)
    (step,) = result.trajectories[0].steps
    assert (step.kind, step.text, step.finish_reason) == (StepKind.INVALID, "", "error")
    assert step.error == "request (22 tokens) exceeds the available context size"
    assert result.answer is None


def test_problems_are_answered_side_by_side_one_call_each(grader) -> None:
    problems = [Problem(f"p{i}", f"What is {i} + {i}?", str(2 * i)) for i in range(3)]
    results, engine = solve(grader, ["\\boxed{0}", "\\boxed{2}", "\\boxed{5}"], problems)
    assert [r.answer for r in results] == ["0", "2", "5"]
    assert [len(batch) for batch in engine.calls] == [3]


def test_it_is_registered_with_a_label_and_sized_by_nothing() -> None:
    assert strategy_class("chat_cot") is ChatCotSearch
    assert run_label("chat_cot", {"samples": 4, "completion_tokens": 2048}) == "chat_cot"
    assert run_label("chat_cot", {}, "outcome") == "chat_cot+outcome"
    assert ChatCotSearch.independent_samples is False
    assert ChatCotSearch.width(SearchConfig(strategy="chat_cot", samples=8)) == 1


def test_its_identity_holds_only_what_it_reads() -> None:
    config = SearchConfig(strategy="chat_cot")
    assert run_identity(config, scored=False) == {
        "strategy": "chat_cot", "temperature": None, "max_tokens": None, "max_seconds": None,
        "seed": 0, "logprobs": True, "completion_tokens": 2048,
    }  # fmt: skip
    unread = SearchConfig(strategy="chat_cot", samples=8, k=2, max_step_tokens=512, max_steps=4,
                          errors_threshold=3, exec_timeout=5.0, cell_prelude=True, settle_m=4,
                          settle_confidence=0.9, top_p=0.5, c_uct=2.0,
                          unvisited_first=False)  # fmt: skip
    assert run_identity(unread, scored=False) == run_identity(config, scored=False)
    sampled = SearchConfig(strategy="chat_cot", temperature=0.6, completion_tokens=1024)
    assert run_identity(sampled, scored=True) == {
        "strategy": "chat_cot", "temperature": 0.6, "top_p": 0.95, "max_tokens": None,
        "max_seconds": None, "seed": 0, "logprobs": True, "completion_tokens": 1024,
    }  # fmt: skip


def test_its_option_is_refused_for_another_strategy_and_settling_for_it() -> None:
    with pytest.raises(ValueError) as refused:
        SearchConfig(strategy="greedy", completion_tokens=512)
    assert (
        "--completion-tokens is an option of chat_cot; greedy does not read it"
        " (use --strategy chat_cot or leave it out)"
    ) in str(refused.value)
    assert SearchConfig(strategy="greedy", completion_tokens=2048) == SearchConfig()
    with pytest.raises(ValueError) as unsettled:
        SearchConfig(strategy="chat_cot", settle="agree")
    assert "--settle agree: chat_cot does not settle early" in str(unsettled.value)
    with pytest.raises(ValueError) as small:
        SearchConfig(strategy="chat_cot", completion_tokens=8)
    assert "completion_tokens\n  Input should be greater than or equal to 16" in str(small.value)


def test_a_dump_builds_the_same_config() -> None:
    config = SearchConfig(strategy="chat_cot", completion_tokens=1024, seed=3)
    assert config.model_dump()["completion_tokens"] == 1024
    assert SearchConfig(**config.model_dump()) == config
