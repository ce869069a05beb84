"""A preference pair as the LM PPM reads it: token ids of both sides, their shared prefix.

Each side is :func:`thinktree.reward.lm_format.ppm_text` of the question and that
side's steps (the pair's prefix steps, then its chosen or rejected steps), encoded
whole, without special tokens (Qwen2.5's GGUF adds no BOS, so llama.cpp reads the
same ids). Encoding each side whole rather than the prefix and the continuations
apart keeps the ids those llama.cpp reads at a BPE boundary; the shared prefix is
then the longest common run of ids, which holds the question and the earlier
steps. Each side keeps at least one id of its own, so both sides always have a
continuation to read from the shared prefix's cache.

Truncation (training only; serving reads the whole text): a side longer than
``max_length`` ids keeps the ids of the question (``Question: ... Step 1:``) and
the last ids of the text, dropping the earliest steps: the suffix and the latest
steps, which are what the pair is about, stay. A question longer than
``max_length`` on its own leaves only the last ``max_length`` ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from thinktree.reward.lm_format import NO, YES, ppm_text
from thinktree.steps import Step, solution_text
from thinktree.train.ppm.pairs import PreferencePair


@dataclass(frozen=True)
class PairTokens:
    shared: tuple[int, ...]
    """Ids both sides start with (the question and the earlier steps)."""
    chosen: tuple[int, ...]
    """The chosen side's ids after ``shared`` (never empty)."""
    rejected: tuple[int, ...]
    truncated: bool
    """Whether a side lost ids to ``max_length``."""

    @property
    def tokens(self) -> int:
        """Ids of both sides as the model reads them without sharing."""
        return 2 * len(self.shared) + len(self.chosen) + len(self.rejected)


def encode(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer.encode(text, add_special_tokens=False))


def answer_ids(tokenizer: Any) -> tuple[int, int]:
    """The ids of :data:`YES` and :data:`NO`; each must be one token of the vocabulary."""
    ids = []
    for word in (YES, NO):
        found = encode(tokenizer, word)
        if len(found) != 1:
            raise ValueError(
                f"{word!r} is {len(found)} tokens in this vocabulary, not one: the LM PPM "
                "needs a Qwen2.5 model"
            )
        ids.append(found[0])
    return ids[0], ids[1]


def _common(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two id sequences."""
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


def side_ids(
    tokenizer: Any, question: str, steps: Sequence[Step], max_length: int
) -> tuple[list[int], bool]:
    """(ids of one side, whether they were truncated), as the module docstring says."""
    full = encode(tokenizer, ppm_text(question, steps))
    if len(full) <= max_length:
        return full, False
    head = _common(encode(tokenizer, solution_text(question, ())), full)
    if head >= max_length:
        return full[-max_length:], True
    return full[:head] + full[len(full) - (max_length - head) :], True


def pair_tokens(tokenizer: Any, pair: PreferencePair, max_length: int) -> PairTokens:
    chosen, cut_c = side_ids(tokenizer, pair.question, pair.prefix + pair.chosen, max_length)
    rejected, cut_r = side_ids(tokenizer, pair.question, pair.prefix + pair.rejected, max_length)
    shared = min(_common(chosen, rejected), len(chosen) - 1, len(rejected) - 1)
    return PairTokens(
        tuple(chosen[:shared]), tuple(chosen[shared:]), tuple(rejected[shared:]), cut_c or cut_r
    )


@dataclass(frozen=True)
class GroupTokens:
    """Pairs that share their question and earlier steps, each distinct side once: the
    LM PPM scores every side a single time and takes the loss over all the pairs."""

    shared: tuple[int, ...]
    """Ids every side starts with."""
    sides: tuple[tuple[int, ...], ...]
    """Each distinct side's ids after ``shared`` (never empty)."""
    pairs: tuple[tuple[int, int], ...]
    """(chosen, rejected) as indices into ``sides``, in the pairs' order."""
    truncated: int
    """How many of the pairs lost ids to ``max_length`` on either side."""

    @property
    def tokens(self) -> int:
        """Ids the model reads (the shared ones once)."""
        return len(self.shared) + sum(len(s) for s in self.sides)


def group_tokens(tokenizer: Any, pairs: Sequence[PreferencePair], max_length: int) -> GroupTokens:
    """The pairs as one :class:`GroupTokens`; a side read the same (same ids after
    truncation) is one side. The pairs should share a question and a prefix (they then
    share ids beyond the question); any pairs are valid, sharing only what they do."""
    index: dict[tuple[int, ...], int] = {}
    full: list[list[int]] = []
    edges, truncated = [], 0
    for pair in pairs:
        ends = []
        cut_any = False
        for steps in (pair.prefix + pair.chosen, pair.prefix + pair.rejected):
            ids, cut = side_ids(tokenizer, pair.question, steps, max_length)
            cut_any = cut_any or cut
            key = tuple(ids)
            if key not in index:
                index[key] = len(full)
                full.append(ids)
            ends.append(index[key])
        edges.append((ends[0], ends[1]))
        truncated += cut_any
    shared = min(len(ids) - 1 for ids in full)
    for ids in full[1:]:
        shared = min(shared, _common(full[0], ids))
    return GroupTokens(
        tuple(full[0][:shared]), tuple(tuple(ids[shared:]) for ids in full), tuple(edges), truncated
    )
