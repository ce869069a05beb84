"""Stage 1 of grading: find the final answer in a piece of model text.

Contract
--------
:func:`extract_answer` looks, in this order, for

1. the last complete ``\\boxed{...}`` (or ``\\fbox{...}``), braces nested to any
   depth. Boxes right next to it that are joined by only ``,``/``and``/``or``
   (``$\\boxed{2}$ and $\\boxed{-3}$``) are read as one answer ``2, -3``;
   repeated identical boxes count once. A box whose closing brace never comes
   (a generation cut off mid-answer) is not an answer;
2. the last GSM8K-style line ``#### 18``;
3. the last "the (final) answer is X" / "Answer: X" phrase; X runs to the end
   of its line or sentence;

and returns the answer as written (stripped of ``$`` delimiters, bold markers
and a trailing full stop), or ``None`` when none of these is present. The later
stages decide what the answer means.

Surprises
---------
* A bare answer (``"18"``, ``"\\frac{1}{2}"``) has no marker, so
  :func:`extract_answer` returns ``None`` for it. :func:`answer_from_text` is
  what the grader uses: the marked answer if there is one, else the whole text
  when it is short enough to *be* an answer (:func:`looks_like_bare_answer`),
  else ``None``. A paragraph with no marker is never mined for "the last
  number": that would grade guesses as answers.
* Everything here is plain string scanning, linear in the length of the text,
  so a megabyte of garbage costs milliseconds and never reaches SymPy.
"""

from __future__ import annotations

import re

_BOX_COMMANDS = ("\\boxed", "\\fbox")
_MAX_JOINED_BOXES = 8

# What may sit between two boxes that together make one answer.
_BOX_GAP = re.compile(
    r"^[\s$,;]*(?:(?:and|or|\\text\{\s*(?:and|or)\s*\}|\\quad|\\qquad)[\s$,;]*)?"
    r"(?:[a-zA-Z](?:_\{?\d\}?)?\s*=\s*)?$"
)

_GSM8K_LINE = re.compile(r"^[ \t]*####[ \t]*(?P<ans>[^\n]*?)[ \t]*$", re.MULTILINE)

_ANSWER_PHRASE = re.compile(
    r"(?i)\b(?:final\s+answer|answer)\s*(?:\*\*|__)?\s*(?:is|:|=)\s*(?:\*\*|__)?\s*:?[ \t]*"
    r"(?P<ans>[^\n]+)"
)

# A sentence ends at a full stop followed by a space or the end: "18. So", "18."
# but not the decimal point of "18.5".
_SENTENCE_END = re.compile(r"\.(?=\s|$)")

_DELIMITERS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))

_WORD = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}")
_TEXT_BLOCK = re.compile(r"\\(?:text|textbf|textit|textrm|mbox|mathrm)\s*\{[^{}]*\}")

BARE_ANSWER_CHARS = 1000
"""Longer texts without an answer marker are prose, not answers."""


def extract_answer(text: str) -> str | None:
    """The final answer marked in ``text`` (see the module docstring), or ``None``."""
    if not text:
        return None
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    if any(command in text for command in _BOX_COMMANDS):
        # The model started to box its answer and was cut off: whatever else
        # the text says is not its final answer.
        return None
    gsm8k = _last_gsm8k_answer(text)
    if gsm8k is not None:
        return gsm8k
    return _last_answer_phrase(text)


def answer_from_text(text: str) -> str | None:
    """The marked answer in ``text``, else ``text`` itself if it looks like a bare answer."""
    answer = extract_answer(text)
    if answer is not None:
        return answer
    if looks_like_bare_answer(text):
        return clean_answer(text)
    return None


def looks_like_bare_answer(text: str) -> bool:
    """True for texts that read as an answer rather than as prose.

    ``"18"``, ``"$18"``, ``"18 dollars"``, ``"x = 3"``, ``"\\text{Evelyn}"``,
    ``"\\text{the red one}"``, ``"(B)"`` and a matrix spread over lines are
    answers; ``"I think we need to add them first"`` is not. The test: at most
    :data:`BARE_ANSWER_CHARS` characters, no box command (a box extraction
    rejected is no answer), and at most three words of three or more letters
    outside LaTeX commands and ``\\text{}`` blocks.
    """
    stripped = text.strip()
    if not stripped or len(stripped) > BARE_ANSWER_CHARS:
        return False
    if any(command in stripped for command in _BOX_COMMANDS):
        return False
    return len(_WORD.findall(_TEXT_BLOCK.sub(" ", stripped))) <= 3


def last_boxed(text: str) -> str | None:
    """Content of the last complete ``\\boxed{}``/``\\fbox{}``, joined with adjacent boxes."""
    found: list[tuple[int, int, str]] = []  # (command start, closing brace, content)
    boxes = _boxes_from_right(text)
    limit = len(text)
    for start, brace in boxes:
        # A box that opens inside the region of a later box cannot close after
        # that box began, so scanning only up to ``limit`` keeps this linear.
        close = _matching_brace(text, brace, limit) if brace >= 0 else -1
        limit = start
        if close < 0:
            if found:
                break
            continue  # unclosed or brace-less box: look further left
        content = text[brace + 1 : close].strip()
        if found:
            gap = text[close + 1 : found[-1][0]]
            if len(gap) > 24 or not _BOX_GAP.match(gap):
                break
        if not content:
            if found:
                break
            continue
        found.append((start, close, content))
        if len(found) == _MAX_JOINED_BOXES:
            break
    if not found:
        return None
    contents: list[str] = []
    for _, _, content in reversed(found):
        if content not in contents:
            contents.append(content)
    return ", ".join(contents)


def _boxes_from_right(text: str):
    """(start of command, index of its ``{`` or -1) for every box command, right to left."""
    # One rfind per command and box, each starting where the last one stopped:
    # linear in the text however many boxes it holds.
    next_at = {command: text.rfind(command) for command in _BOX_COMMANDS}
    while True:
        command = max(next_at, key=lambda c: next_at[c])
        start = next_at[command]
        if start < 0:
            return
        next_at[command] = text.rfind(command, 0, start) if start > 0 else -1
        i = start + len(command)
        while i < len(text) and text[i] in " \t":
            i += 1
        yield start, (i if i < len(text) and text[i] == "{" else -1)


def _matching_brace(text: str, open_at: int, limit: int) -> int:
    depth = 0
    for i in range(open_at, limit):
        ch = text[i]
        if ch == "{" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif ch == "}" and (i == 0 or text[i - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return i
    return -1


def _last_gsm8k_answer(text: str) -> str | None:
    if "####" not in text:
        return None
    answer = None
    for match in _GSM8K_LINE.finditer(text):
        candidate = clean_answer(match.group("ans"))
        if candidate:
            answer = candidate
    return answer


def _last_answer_phrase(text: str) -> str | None:
    answer = None
    for match in _ANSWER_PHRASE.finditer(text):
        candidate = match.group("ans")
        # "Answer: the answer is 5" -> look again inside the captured text.
        inner = None
        for inner_match in _ANSWER_PHRASE.finditer(candidate):
            inner = inner_match.group("ans")
        if inner is not None:
            candidate = inner
        candidate = clean_answer(_first_sentence(candidate))
        if candidate:
            answer = candidate
    return answer


def _first_sentence(text: str) -> str:
    # Only cut outside of $...$: a full stop inside math is part of the math.
    dollars = 0
    for match in _SENTENCE_END.finditer(text):
        dollars = text.count("$", 0, match.start())
        if dollars % 2 == 0:
            return text[: match.start()]
    return text


def clean_answer(answer: str) -> str:
    """Strip what surrounds an answer without changing it: space, bold, math delimiters."""
    answer = answer.strip()
    for _ in range(3):
        before = answer
        for marker in ("**", "__"):
            if answer.startswith(marker) and answer.endswith(marker) and len(answer) > 4:
                answer = answer[2:-2].strip()
        answer = answer.rstrip(".").strip() if not answer.endswith("..") else answer
        for left, right in _DELIMITERS:
            if (
                answer.startswith(left)
                and answer.endswith(right)
                and len(answer) > len(left) + len(right)
            ):
                inner = answer[len(left) : -len(right)]
                # "$5 and $6" is not one math span
                if left == "$" and "$" in inner:
                    continue
                answer = inner.strip()
                break
        if answer == before:
            break
    return answer
