"""Steps written by code render exactly as a model writes them, and parse back."""

from __future__ import annotations

from thinktree.steps import StepKind, code_step_text, final_step_text, parse_step


def test_a_code_step_is_a_python_fence_and_parses_back_as_its_code() -> None:
    text = code_step_text("# Clips in May.\nclips = 48 / 2\nprint(clips)")
    assert text == "\n```python\n# Clips in May.\nclips = 48 / 2\nprint(clips)\n```\n"
    parsed = parse_step(text)
    assert (parsed.kind, parsed.code) == (
        StepKind.CODE,
        "# Clips in May.\nclips = 48 / 2\nprint(clips)",
    )


def test_a_final_step_boxes_the_answer_and_parses_back_as_it() -> None:
    text = final_step_text("72")
    assert text == "\nAnswer: \\boxed{72}"
    parsed = parse_step(text)
    assert (parsed.kind, parsed.answer) == (StepKind.FINAL, "72")
