"""The prompts of the code-augmented step format: few-shot and zero-shot.

Few-shot (the untrained instruct models): the user turn holds a short
instruction, two worked examples and the question. Zero-shot (a policy
fine-tuned on step-format trajectories, which is prompted exactly as its
training data was rendered): the instruction and the question only. In both,
the assistant turn is opened with the model's own chat template and pre-filled
with ``Step 1:``. Each generation call produces one step and stops before the
model writes ``Output:`` itself; the sandbox's output is appended as
``Output: ...`` followed by the next step's header ``Step n:``, and generation
continues, until a step states ``Answer: \\boxed{...}``. Pre-filling every
header keeps small models from drifting out of the format (measured: without
it, the 1.5B often re-opened a code fence after an output). The examples are
written for thinktree, not taken from any benchmark.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from thinktree.steps.step import Step

RenderChat = Callable[[list[dict[str, str]]], str]
"""Chat messages rendered in the model's own chat template (an engine's ``render_chat``)."""

OUTPUT_MARKER = "Output:"
STOP_STRINGS: tuple[str, ...] = ("Output:", "Question:")
MAX_OUTPUT_CHARS = 400
"""Longer cell output is cut for the prompt (the full text stays in the store)."""

INSTRUCTION = (
    "Solve the math problem step by step. Each step is one Python cell: comments "
    "explain the reasoning, the code does the computation, and the last line prints "
    "what the step found. You will see each cell's output. You may use math, "
    "fractions and sympy. When you know the final answer, write it as "
    "Answer: \\boxed{...}"
)

CELL_PRELUDE = "import math\nimport fractions\nfrom fractions import Fraction\nimport sympy"
"""Run before a trajectory's cells (``SearchConfig.cell_prelude``), so the names the
instruction offers are bound: the second example imports ``Fraction`` in its first
step, and small models copy ``Fraction(...)`` without the import (on gsm8k test[:50]
each of the 0.5B's sc runs had 20-28 samples, of at most 200, end unanswered after
a NameError on it). The prelude makes the instruction's offer true without
changing the prompt."""

EXAMPLES: tuple[str, ...] = (
    """Question: Cupcakes cost 2 dollars each and cookies cost 1 dollar each. Mia buys 5 cupcakes and 3 cookies and pays with a 20-dollar bill. How much change does she get?

Step 1:
```python
# Cost of the cupcakes and the cookies.
cost = 5 * 2 + 3 * 1
print(cost)
```
Output: 13

Step 2:
```python
# Change from the 20-dollar bill.
change = 20 - cost
print(change)
```
Output: 7

Step 3:
Answer: \\boxed{7}""",
    """Question: A baker made 48 muffins. She sold 3/4 of them in the morning and half of the rest in the afternoon. How many muffins does she have left?

Step 1:
```python
from fractions import Fraction
# Muffins left after the morning: she sold 3/4 of 48.
left = 48 - Fraction(3, 4) * 48
print(left)
```
Output: 12

Step 2:
```python
# In the afternoon she sold half of the remaining muffins.
left = left - left / 2
print(left)
```
Output: 6

Step 3:
Answer: \\boxed{6}""",
)


class PromptStyle(StrEnum):
    """How a policy is prompted; a fine-tuned policy records the style it learned."""

    FEW_SHOT = "few-shot"
    ZERO_SHOT = "zero-shot"


def prompt_style(value: str | PromptStyle) -> PromptStyle:
    """``value`` as a :class:`PromptStyle`; ValueError naming the known styles otherwise."""
    try:
        return PromptStyle(value)
    except ValueError:
        known = ", ".join(s.value for s in PromptStyle)
        raise ValueError(f"unknown prompt style {value!r}; use one of {known}") from None


def format_output(output: str) -> str:
    text = output.strip()
    if len(text) > MAX_OUTPUT_CHARS:
        text = text[:MAX_OUTPUT_CHARS] + " ...[output cut]"
    return text


@dataclass(frozen=True)
class StepPrompt:
    """Builds prompts for one question; ``header`` is computed once per question."""

    header: str

    def prompt(self, steps: Sequence[Step]) -> str:
        """The header, then each step as generated, its output and the next header."""
        parts = [self.header]
        for index, step in enumerate(steps, start=2):
            parts.append(step.text)
            if step.executed:
                parts.append(f"Output: {step.output}\n\nStep {index}:")
        return "".join(parts)


def user_message(
    question: str,
    instruction: str = INSTRUCTION,
    examples: Sequence[str] = EXAMPLES,
    style: PromptStyle = PromptStyle.FEW_SHOT,
) -> str:
    if style is PromptStyle.ZERO_SHOT:
        return f"{instruction}\n\nQuestion: {question.strip()}"
    shots = "\n\n\n".join(examples)
    return f"{instruction}\n\n{shots}\n\n\nQuestion: {question.strip()}"


def build_step_prompt(
    question: str,
    render_chat: RenderChat,
    style: PromptStyle = PromptStyle.FEW_SHOT,
) -> StepPrompt:
    """The prompt for ``question`` in the model's own chat template, opened with ``Step 1:``."""
    message = user_message(question, style=style)
    rendered = render_chat([{"role": "user", "content": message}])
    return StepPrompt(rendered + "Step 1:")


def solution_text(question: str, steps: Sequence[Step]) -> str:
    """A (partial) solution in the step format without instruction or examples:
    ``Question: ...`` then the steps with their outputs. What the PPM reads."""
    return StepPrompt(f"Question: {question.strip()}\n\nStep 1:").prompt(steps)
