"""Stage 1 of grading: find the final answer in a piece of model text.

Contract: the extraction order
------------------------------
:func:`answer_from_text` (what the grader uses) tries, in this order, and
returns the first answer found, as written (stripped of ``$`` delimiters, bold
markers and a trailing full stop), or ``None``:

1. the last complete ``\\boxed{...}`` (or ``\\fbox{...}``), braces nested to any
   depth. Boxes just before it that are joined by a short gap ending in
   ``,``/``;``/``and``/``or`` (``$\\boxed{2}$ and $\\boxed{-3}$``,
   ``\\boxed{(2, 2)} \\quad \\text{and} \\quad \\boxed{(6, 2)}``, ``\\boxed{1}\\boxed{2}``)
   are read as one answer ``2, -3``; repeated identical boxes count once.
   A box whose closing brace never comes (a generation cut off mid-answer)
   is not an answer, and then nothing else in the text is either;
   *exception*: a "Final Answer: ... X" sentence *after* the last box, whose
   X holds a digit, wins over the box (intermediate results boxed, the
   result stated last);
2. the last GSM8K-style line ``#### 18``;
3. the last "the (final) answer is X" / "Answer: X" phrase. X runs to the end
   of its line or sentence; when X is prose ("The largest $n$ is 34"), X is
   reduced by step 5 to its last math span or number (``34``);
4. a text that *is* an answer: math spans joined only by ``and``/``or``/``,``
   (``$1$ and $2$``), or a short text with no prose word outside ``\\text{}``
   and LaTeX commands (``\\frac{1}{2}``, ``x = 3``, ``(B)``, a matrix);
5. the last inline or display math span, or the last number outside math,
   whichever ends later (so "... $d = \\frac{90}{n}$ ... there are 12
   sequences" gives ``12``). Inline math (``$..$``, ``\\(..\\)``) never spans a
   line break; display math (``$$..$$``, ``\\[..\\]``) may. Only the last
   :data:`TAIL_CHARS` characters are searched;
6. a short text of at most three words ("twelve", "Evelyn") as a whole.

A text that holds a fenced code block (```` ``` ````) skips steps 5 and 6:
that is thinktree's own step format, where printed output is work, not an
answer, and the answer is boxed or absent.

:func:`extract_answer` is steps 1-3 only: the answer the text *marks*.

Numbers in prose (step 5)
-------------------------
A number is an optional sign, digits with optional thousands groups, an
optional decimal part, an optional ``/denominator`` and an optional ``%``:
``-3``, ``1,000.99``, ``2,74``, ``2/3``, ``100%``. Whether ``2,74`` is 2.74 is
decided by :mod:`.normalise`, not here. A currency or unit stuck to the
number (``1,000.99€``, ``1,000.99m²``) is not part of it.

Surprises
---------
* A paragraph with no marker *is* mined for its last math or number (step 5),
  as Math-Verify does: graders are run on other models' free-form outputs. A
  text cut off inside ``\\boxed{`` is still no answer.
* Everything here is plain string scanning, linear in the length of the text
  (step 5 sees a bounded tail), so a megabyte of garbage costs milliseconds
  and never reaches SymPy.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

_BOX_COMMANDS = ("\\boxed", "\\fbox")
_MAX_JOINED_BOXES = 8
_MAX_GAP_CHARS = 80
"""Boxes further apart than this are separate answers, whatever lies between."""
_MAX_GAP_WORDS_CHARS = 30

# Noise between two boxes (or math spans) that together make one answer.
_GAP_NOISE = re.compile(r"\\[()\[\]]|\$|\\q?quad(?![a-zA-Z])|\\[,;: ]|~|\\\\")
_GAP_TEXT = re.compile(r"\\(?:text|textbf|textrm|mbox|mathrm)\s*\{([^{}]*)\}")
_GAP_ASSIGNMENT = re.compile(r"[a-zA-Z](?:_\{?\w+\}?)?\s*=\s*$")
_GAP_JOINER = re.compile(r"^(?:[,;]|.*(?:^|[\s,])(?:and|or))$", re.DOTALL)

_GSM8K_LINE = re.compile(r"^[ \t]*####[ \t]*(?P<ans>[^\n]*?)[ \t]*$", re.MULTILINE)

_ANSWER_PHRASE = re.compile(
    r"(?i)\b(?P<final>final\s+answer|answer)\s*(?:\*\*|__)?\s*(?:is|:|=)\s*(?:\*\*|__)?\s*:?[ \t]*"
    r"(?P<ans>[^\n]+)"
)

# A sentence ends at a full stop followed by a space or the end: "18. So", "18."
# but not the decimal point of "18.5".
_SENTENCE_END = re.compile(r"\.(?=\s|$)")

_DELIMITERS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))

# Math spans: display math may span lines, inline math may not (Math-Verify's rule).
_MATH_SPAN = re.compile(
    r"\$\$(?P<dd>(?:(?!\$\$)[\s\S]){1,4000}?)\$\$"
    r"|\\\[(?P<db>(?:(?!\\\])[\s\S]){1,4000}?)\\\]"
    r"|\\\((?P<ip>(?:(?!\\\))[^\n]){1,2000}?)\\\)"
    r"|(?<![\\$])\$(?P<id>(?:\\\$|[^$\n]){1,2000}?)(?<!\\)\$"
)
_NUMBER = re.compile(
    r"(?<![\w.,/])[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:[.,]\d+)?(?:/\d+)?%?(?![\d]|[.,/]\d)"
)

_BROKEN_INLINE = re.compile(r"(?<![$\\])(?:\$|\\\()[ \t]*\n")
_QUOTES = re.compile(r'^(?:\\?")+|(?:\\?")+$')
_WORD = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}")
_TEXT_BLOCK = re.compile(r"\\(?:text|textbf|textit|textrm|mbox|mathrm)\s*\{[^{}]*\}")
_NOT_PROSE = frozenset({"and", "the", "pmatrix", "bmatrix", "matrix", "array", "end", "begin"})

BARE_ANSWER_CHARS = 1000
"""Longer texts are never taken whole as an answer (step 4)."""

SHORT_TEXT_CHARS = 100
"""Step 6 takes a text of at most three words whole only up to this length."""

TAIL_CHARS = 6000
"""Step 5 searches only this many characters at the end of a text."""


def extract_answer(text: str) -> str | None:
    """The final answer marked in ``text`` (steps 1-3 of the module docstring), or ``None``."""
    if not text:
        return None
    boxed = _last_boxed_with_end(text)
    if boxed is not None:
        content, end = boxed
        stated_after = _last_answer_phrase(text[end:], final_only=True)
        if stated_after is not None and any(ch.isdigit() for ch in stated_after):
            return stated_after
        return content
    if any(command in text for command in _BOX_COMMANDS):
        # The model started to box its answer and was cut off: whatever else
        # the text says is not its final answer.
        return None
    gsm8k = _last_gsm8k_answer(text)
    if gsm8k is not None:
        return gsm8k
    return _last_answer_phrase(text)


def answer_from_text(text: str) -> str | None:
    """The answer in ``text`` by the extraction order of the module docstring, or ``None``."""
    answer = extract_answer(text)
    if answer is not None:
        return answer
    if not text or any(command in text for command in _BOX_COMMANDS):
        return None
    joined = joined_math_spans(text)
    if joined is not None:
        return joined
    if looks_like_bare_answer(text):
        return clean_answer(text)
    if "```" in text:
        # thinktree's own step format: code cells and their printed output are
        # work, not answers; such a text states its answer in a box or not at all.
        return None
    last = last_math_or_number(text)
    if last is not None:
        return last
    stripped = text.strip()
    if 0 < len(stripped) <= SHORT_TEXT_CHARS and len(stripped.split()) <= 3:
        return clean_answer(stripped)
    return None


def gold_answer(gold: str) -> str:
    """The answer in a gold text: its marked answer, joined math spans, or the text itself."""
    return extract_answer(gold) or joined_math_spans(gold) or clean_answer(gold)


def looks_like_bare_answer(text: str) -> bool:
    """True for texts that read as an answer rather than as prose (step 4).

    ``"18"``, ``"\\frac{1}{2}"``, ``"x = 3"``, ``"\\text{Evelyn}"``,
    ``"\\text{the red one}"``, ``"(B)"`` and a matrix spread over lines are
    answers; ``"18 dollars"`` and ``"Answer $ 9 $"`` are not (their number or
    math is found by step 5). The test: at most :data:`BARE_ANSWER_CHARS`
    characters, no box command, and no word of three or more letters outside
    LaTeX commands and ``\\text{}`` blocks other than ``and``.
    """
    stripped = text.strip()
    if not stripped or len(stripped) > BARE_ANSWER_CHARS:
        return False
    if any(command in stripped for command in _BOX_COMMANDS):
        return False
    return not _prose_words(stripped)


def _prose_words(text: str) -> list[str]:
    words = _WORD.findall(_TEXT_BLOCK.sub(" ", text))
    return [w for w in words if w.lower() not in _NOT_PROSE]


def joined_math_spans(text: str) -> str | None:
    """``"$1$ and $2$ and $3$"`` -> ``"1, 2, 3"``: a text made only of joined math spans."""
    stripped = text.strip()
    if len(stripped) > BARE_ANSWER_CHARS or ("$" not in stripped and "\\(" not in stripped):
        return None
    spans = list(_math_spans(stripped))
    if len(spans) < 2 or spans[0][0] != 0 or spans[-1][1] < len(stripped.rstrip(". ")):
        return None
    for (_, end, _), (start, _, _) in itertools.pairwise(spans):
        if not _joinable_gap(stripped[end:start]):
            return None
    contents: list[str] = []
    for _, _, content in spans:
        content = content.strip()
        if content and content not in contents:
            contents.append(content)
    return ", ".join(contents) if contents else None


def last_math_or_number(text: str) -> str | None:
    """The last math span or number outside math in the tail of ``text`` (step 5)."""
    tail = text[-TAIL_CHARS:]
    if len(text) > TAIL_CHARS:
        # Start at a line or sentence boundary, not in the middle of a math span.
        cut = min((i for i in (tail.find("\n"), tail.find(". ")) if i >= 0), default=0)
        tail = tail[cut + 1 :]
    best: tuple[int, str] | None = None
    position = 0
    for start, end, content in _math_spans(tail):
        number = _last_number(tail[position:start])
        if number is not None:
            best = (position + number[0], number[1])
        content = content.strip()
        if content:
            best = (end, content)
        position = end
    number = _last_number(tail[position:])
    if number is not None:
        best = (position + number[0], number[1])
    return clean_answer(best[1]) if best is not None else None


def _math_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, content) of each math span, left to right."""
    for match in _MATH_SPAN.finditer(text):
        content = next(g for g in match.groups() if g is not None)
        yield match.start(), match.end(), content


def _last_number(text: str) -> tuple[int, str] | None:
    broken = _BROKEN_INLINE.search(text)
    if broken is not None:
        # "Answer $ \n 9 \n $": inline math cannot span lines, and what an
        # unclosed span holds is neither math nor prose.
        text = text[: broken.start()]
    last = None
    for last in _NUMBER.finditer(text):  # noqa: B007  (only the last one is wanted)
        pass
    return (last.end(), last.group()) if last is not None else None


def last_boxed(text: str) -> str | None:
    """Content of the last complete ``\\boxed{}``/``\\fbox{}``, joined with adjacent boxes."""
    found = _last_boxed_with_end(text)
    return found[0] if found is not None else None


def _last_boxed_with_end(text: str) -> tuple[str, int] | None:
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
        if found and not _joinable_gap(text[close + 1 : found[-1][0]]):
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
    return ", ".join(contents), found[0][1] + 1


def _joinable_gap(gap: str) -> bool:
    """True when ``gap`` joins two answers into one: empty, ``,``, ``and``, ``\\text{ or }``."""
    if len(gap) > _MAX_GAP_CHARS:
        return False
    words = _GAP_NOISE.sub(" ", _GAP_TEXT.sub(r" \1 ", gap))
    words = _GAP_ASSIGNMENT.sub("", words.strip())
    words = " ".join(words.split())
    if not words:
        return True
    return len(words) <= _MAX_GAP_WORDS_CHARS and _GAP_JOINER.match(words.lower()) is not None


def _boxes_from_right(text: str) -> Iterator[tuple[int, int]]:
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


def _last_answer_phrase(text: str, final_only: bool = False) -> str | None:
    answer = None
    for match in _ANSWER_PHRASE.finditer(text):
        if final_only and not match.group("final").lower().startswith("final"):
            continue
        candidate = match.group("ans")
        # "Answer: the answer is 5" -> look again inside the captured text.
        inner = None
        for inner_match in _ANSWER_PHRASE.finditer(candidate):
            inner = inner_match.group("ans")
        if inner is not None:
            candidate = inner
        candidate = clean_answer(_QUOTES.sub("", _first_sentence(candidate).strip()))
        candidate = joined_math_spans(candidate) or candidate
        if candidate and _prose_words(_MATH_SPAN.sub(" ", candidate)):
            # "The largest $n$ is 34": the answer is the last math or number in it.
            candidate = last_math_or_number(candidate) or candidate
        if candidate:
            answer = candidate
    return answer


def _first_sentence(text: str) -> str:
    # Only cut outside of $...$: a full stop inside math is part of the math.
    for match in _SENTENCE_END.finditer(text):
        if text.count("$", 0, match.start()) % 2 == 0:
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
