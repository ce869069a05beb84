"""One step of a code-augmented solution, as generated, parsed and executed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class StepKind(StrEnum):
    CODE = "code"
    """A Python cell that ran without raising."""
    ERROR = "error"
    """A Python cell that raised or timed out; its error text is its output."""
    FINAL = "final"
    """States the final answer in ``\\boxed{}`` (may also hold a cell)."""
    INVALID = "invalid"
    """Neither a complete cell nor an answer: the branch ends here."""


@dataclass
class Step:
    """A generated step.

    ``text`` is exactly what the model generated, so that the prompt of a child
    step is its parent's prompt plus ``prompt_text`` byte for byte and the
    engine's prefix cache applies.
    """

    text: str
    kind: StepKind
    code: str | None = None
    output: str = ""
    error: str | None = None
    answer: str | None = None
    tokens: int = 0
    mean_logprob: float | None = None
    finish_reason: str = "stop"
    exec_seconds: float = 0.0

    @property
    def executed(self) -> bool:
        """True when the step's cell ran and its output was fed back."""
        return self.code is not None and self.kind in (StepKind.CODE, StepKind.ERROR)

    @property
    def is_terminal(self) -> bool:
        return self.kind in (StepKind.FINAL, StepKind.INVALID)

    def to_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "kind": self.kind.value,
            "code": self.code,
            "output": self.output,
            "error": self.error,
            "answer": self.answer,
            "tokens": self.tokens,
            "mean_logprob": self.mean_logprob,
            "finish_reason": self.finish_reason,
            "exec_seconds": round(self.exec_seconds, 4),
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Step:
        return cls(
            text=str(data["text"]),
            kind=StepKind(str(data["kind"])),
            code=data.get("code"),  # type: ignore[arg-type]
            output=str(data.get("output", "")),
            error=data.get("error"),  # type: ignore[arg-type]
            answer=data.get("answer"),  # type: ignore[arg-type]
            tokens=int(data.get("tokens", 0)),  # type: ignore[arg-type]
            mean_logprob=data.get("mean_logprob"),  # type: ignore[arg-type]
            finish_reason=str(data.get("finish_reason", "stop")),
            exec_seconds=float(data.get("exec_seconds", 0.0)),  # type: ignore[arg-type]
        )


def steps_text(steps: Sequence[Step]) -> str:
    """The steps' texts joined, without the question: what tells two solutions apart."""
    return "".join(step.text for step in steps)


def executed_cells(steps: list[Step]) -> list[str]:
    """The trajectory's state: the code of earlier steps whose cells ran cleanly.

    A cell that raised is dropped from the state (its text and error stay in the
    prompt, so the next step can repair it); re-running it would only raise again.
    """
    return [
        s.code for s in steps if s.code is not None and s.kind in (StepKind.CODE, StepKind.FINAL)
    ]


def consecutive_errors(steps: Sequence[Step]) -> int:
    count = 0
    for step in reversed(steps):
        if step.kind is not StepKind.ERROR:
            break
        count += 1
    return count


def end_reason(steps: Sequence[Step], errors_threshold: int, max_steps: int) -> str | None:
    """Why a branch ends after ``steps``, or None while it may go on: the terminal rules.

    Checked in this order: ``"answer"`` (the last step states the final answer),
    ``"invalid"`` (the last step is neither a cell nor an answer), ``"errors"``
    (``errors_threshold`` consecutive failing cells), ``"too_deep"`` (``max_steps``
    steps without an answer). Every strategy ends its branches by these rules; MCTS
    also records the reason on the terminal node.
    """
    if not steps:
        return None
    last = steps[-1].kind
    if last is StepKind.FINAL:
        return "answer"
    if last is StepKind.INVALID:
        return "invalid"
    if consecutive_errors(steps) >= errors_threshold:
        return "errors"
    if len(steps) >= max_steps:
        return "too_deep"
    return None


_COMMENT = re.compile(r"#[^\n]*")


def dedupe_key(step: Step) -> str:
    """Candidates with the same key are duplicates: same code without comments and
    whitespace, or (for final steps without code) the same answer."""
    if step.code is not None:
        body = _COMMENT.sub("", step.code)
        key = "code:" + "".join(body.split())
        if step.answer is not None:
            key += "|answer:" + step.answer
        return key
    if step.answer is not None:
        return "answer:" + "".join(step.answer.split())
    return f"{step.kind.value}:" + "".join(step.text.split())
