"""Parse one generated step: a fenced Python cell, a final answer, or neither.

Rules, in order:
- The first complete fenced cell tagged python (```python ... ```) is the step's
  code; text after that cell is cut, so one step is one cell. A fence without
  the tag is not code: small models use bare fences for outputs and prose.
- ``\\boxed{...}`` outside the cell (normally after ``Answer:``) makes the step
  final; ``Answer: <text>`` with no box is accepted as the answer too, unless
  it holds no letter or digit or is a box cut off by ``max_tokens``.
- A step with neither a complete cell nor an answer (e.g. an unclosed fence when
  ``max_tokens`` ran out, or prose) is invalid and ends its branch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from thinktree.grading.extract import last_boxed
from thinktree.steps.step import StepKind

_FENCE = re.compile(r"```[ \t]*(?:python3?|py)[ \t]*\n(.*?)```", re.S | re.I)
_ANSWER_LINE = re.compile(r"(?:^|\n)\s*\**(?:final\s+)?answer\**\s*:\**\s*(.+?)\s*$", re.I | re.S)


@dataclass(frozen=True)
class ParsedStep:
    text: str
    kind: StepKind
    code: str | None
    answer: str | None


def parse_step(text: str) -> ParsedStep:
    fence = _FENCE.search(text)
    code: str | None = None
    outside = text
    if fence is not None:
        code = fence.group(1).strip("\n")
        tail = text[fence.end() :]
        boxed_tail = last_boxed(tail)
        # Keep a box that follows the cell (a final step that also computes); cut the rest.
        if boxed_tail is None and tail.strip():
            text = text[: fence.end()] + "\n"
        outside = text[: fence.start()] + text[fence.end() :]
        if not code.strip():
            code = None
    answer = last_boxed(outside)
    if answer is None and code is None:
        line = _ANSWER_LINE.search(outside)
        candidate = line.group(1).strip().rstrip(".") if line is not None else ""
        # A cut-off box ("Answer: \\bo", max_tokens ran out) or a bare
        # backslash is no answer.
        cut_box = any(box.startswith(candidate[:7]) or box[:-1] in candidate
                      for box in ("\\boxed{", "\\fbox{"))  # fmt: skip
        if re.search(r"[0-9A-Za-z]", candidate) and not cut_box:
            answer = candidate
    if answer is not None:
        return ParsedStep(text, StepKind.FINAL, code, answer.strip())
    if code is not None:
        return ParsedStep(text, StepKind.CODE, code, None)
    return ParsedStep(text, StepKind.INVALID, None, None)
