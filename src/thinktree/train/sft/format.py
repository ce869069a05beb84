"""One SFT example: a trajectory rendered as the policy will see it, with its loss mask.

The text is exactly the zero-shot prompt the fine-tuned policy is served with
(:func:`thinktree.steps.build_step_prompt` with ``PromptStyle.ZERO_SHOT``, in the
model's chat template) followed by the steps as :class:`~thinktree.steps.StepPrompt`
renders them, then the end-of-turn token. Only what the policy writes at
inference is a target: each step's text, the ``Output:`` marker after a cell
(the stop string that ends a step's generation: a policy that never learned to
write it would run on to ``max_step_tokens``) and the closing end-of-turn token.
The prompt, the sandbox's printed output and the next ``Step n:`` header, which
thinktree appends after each cell, are context: their labels are ``-100``.

The whole text is tokenised at once (not segment by segment) so tokens merge
across segment boundaries as they do when llama.cpp tokenises a prompt; a
token is a target when its first character lies in a target segment.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from thinktree.steps import OUTPUT_MARKER, PromptStyle, Step, build_step_prompt

IGNORE_INDEX = -100

RenderChat = Callable[[list[dict[str, str]]], str]


@dataclass(frozen=True)
class Segment:
    text: str
    target: bool


@dataclass(frozen=True)
class SFTExample:
    input_ids: list[int]
    labels: list[int]

    @property
    def target_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


def examples_hash(trained: Sequence[SFTExample], held_out: Sequence[SFTExample]) -> str:
    """sha256 of the examples a run trains on and holds out, in order, as tokenised (ids
    and labels): what a checkpoint records, so that it never resumes on other data."""
    digest = hashlib.sha256()
    for split, examples in (("train", trained), ("held-out", held_out)):
        for example in examples:
            digest.update(json.dumps([split, example.input_ids, example.labels]).encode())
            digest.update(b"\n")
    return digest.hexdigest()


def segments(
    question: str,
    steps: Sequence[Step],
    render_chat: RenderChat,
    style: PromptStyle = PromptStyle.ZERO_SHOT,
) -> list[Segment]:
    """The example's text in order, each piece marked target or context."""
    prompt = build_step_prompt(question, render_chat, style)
    parts = [Segment(prompt.header, False)]
    for index, step in enumerate(steps, start=2):
        parts.append(Segment(step.text, True))
        if step.executed:
            parts.append(Segment(OUTPUT_MARKER, True))
            parts.append(Segment(f" {step.output}\n\nStep {index}:", False))
    if "".join(p.text for p in parts) != prompt.prompt(steps):
        raise AssertionError("SFT rendering drifted from StepPrompt.prompt")
    return parts


def tokenize(
    parts: Sequence[Segment], tokenizer: Any, eos_token_id: int, max_length: int
) -> SFTExample | None:
    """Token ids and labels (context masked), the end-of-turn token appended as a
    target; None when the example is longer than ``max_length`` tokens."""
    text = "".join(p.text for p in parts)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = list(encoded["input_ids"])
    offsets: list[tuple[int, int]] = list(encoded["offset_mapping"])
    spans: list[tuple[int, int]] = []
    position = 0
    for part in parts:
        end = position + len(part.text)
        if part.target:
            spans.append((position, end))
        position = end

    def is_target(start: int) -> bool:
        return any(a <= start < b for a, b in spans)

    labels = [token if is_target(start) else IGNORE_INDEX for token, (start, _) in
              zip(ids, offsets, strict=True)]  # fmt: skip
    ids.append(eos_token_id)
    labels.append(eos_token_id)
    if len(ids) > max_length:
        return None
    return SFTExample(ids, labels)
