from __future__ import annotations

import re

import pytest

from thinktree.engines.scripted import ScriptedEngine
from thinktree.steps import (
    Step,
    StepKind,
    build_step_prompt,
    code_step_text,
    final_step_text,
    format_output,
    parse_step,
    user_message,
)
from thinktree.steps.prompt import EXAMPLES, MAX_OUTPUT_CHARS


def test_prompt_is_chat_template_plus_prefill_plus_steps() -> None:
    engine = ScriptedEngine(lambda r, i: "")
    prompt = build_step_prompt("  What is 2+2?  ", engine.render_chat)
    assert prompt.header == (
        f"<user>\n{user_message('What is 2+2?')}\n</user>\n<assistant>\nStep 1:"
    )
    assert user_message("Q?").endswith("\n\n\nQuestion: Q?")
    step = Step(
        text="\n```python\nprint(4)\n```\n", kind=StepKind.CODE, code="print(4)", output="4"
    )
    final = Step(text="\nAnswer: \\boxed{4}", kind=StepKind.FINAL, answer="4")
    assert prompt.prompt([step]).endswith("Output: 4\n\nStep 2:")
    assert prompt.prompt([step, final]) == (
        prompt.header + "\n```python\nprint(4)\n```\nOutput: 4\n\nStep 2:\nAnswer: \\boxed{4}"
    )


def test_examples_follow_the_format_they_teach() -> None:
    for example in EXAMPLES:
        steps = re.split(r"Step \d+:", example)[1:]
        assert len(steps) == 3
        cells = [step.split("Output:")[0] for step in steps[:2]]
        assert all(parse_step(cell).kind is StepKind.CODE for cell in cells)
        assert parse_step(steps[2]).kind is StepKind.FINAL


def test_output_is_cut_for_the_prompt() -> None:
    long = "x" * (MAX_OUTPUT_CHARS + 50)
    assert format_output(long) == "x" * MAX_OUTPUT_CHARS + " ...[output cut]"
    assert format_output("  12\n") == "12"


def test_zero_shot_prompt_has_the_instruction_and_the_question_only() -> None:
    from thinktree.steps import PromptStyle, prompt_style
    from thinktree.steps.prompt import INSTRUCTION

    engine = ScriptedEngine(lambda r, i: "")
    prompt = build_step_prompt(" Q? ", engine.render_chat, PromptStyle.ZERO_SHOT)
    assert prompt.header == f"<user>\n{INSTRUCTION}\n\nQuestion: Q?\n</user>\n<assistant>\nStep 1:"
    assert all(example[:40] not in prompt.header for example in EXAMPLES)
    assert prompt_style("zero-shot") is PromptStyle.ZERO_SHOT
    with pytest.raises(ValueError, match="unknown prompt style 'two-shot'; use one of few-shot"):
        prompt_style("two-shot")


def test_step_texts_are_what_the_policy_writes_and_parse_back() -> None:
    code = code_step_text("x = 6 * 7\nprint(x)")
    assert code == "\n```python\nx = 6 * 7\nprint(x)\n```\n"
    assert (parse_step(code).kind, parse_step(code).code) == (StepKind.CODE, "x = 6 * 7\nprint(x)")
    final = final_step_text("42")
    assert final == "\nAnswer: \\boxed{42}"
    assert (parse_step(final).kind, parse_step(final).answer) == (StepKind.FINAL, "42")
