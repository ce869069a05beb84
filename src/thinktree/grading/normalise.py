"""Stage 2 of grading: rewrite an extracted answer into one canonical string.

Everything here is string rewriting (no SymPy), cheap enough to run in the
parent process for every answer. Its output is what :mod:`.compare` hands to
math-verify, and what the fast path and answer grouping compare directly.

What normalisation throws away, on purpose
------------------------------------------
* Math delimiters, ``\\left``/``\\right``, ``\\!``, ``\\displaystyle``, and
  ``\\dfrac``/``\\tfrac`` (read as ``\\frac``).
* Currency: ``$``, ``\\$``, "dollars", "USD". ``\\$18``, ``18 dollars`` and
  ``18`` are one answer.
* Units after a number: ``18 \\text{ dollars}``, ``15\\mbox{ cm}^2``, ``3 hours``
  keep only the number. A wrong unit is therefore *not* caught: ``5 cm`` equals
  gold ``5 m``. Benchmarks state the unit in the question, and the models
  we grade get units wrong far less often than they add ones the gold lacks.
* Degree marks: ``90^\\circ`` equals ``90``. An angle in radians does not equal
  one in degrees (``\\frac{\\pi}{2}`` is not ``90^\\circ``).
* Python's complex notation: a whole answer that is a complex literal as Python
  prints it (``(6+9j)``, ``-2j``, ``3-0.5j``) is read with ``i``. The policy
  computes in Python and copies its output; a lone ``j`` elsewhere stays a symbol.
* Thousands separators: ``1,000``, ``10,\\!080``, ``10{,}000`` and ``10\\,000`` are
  ``1000``/``10080``/``10000`` - but only when the *whole* answer is such a
  number, with groups of exactly three digits. ``1,-2`` and ``3, 5, 7`` stay
  lists.
* Decimal commas: a whole answer that is one number with one comma that cannot
  be a thousands separator is read with a decimal point: ``1,22`` is 1.22,
  ``0,111`` is 0.111, ``1000,99`` is 1000.99 (the part before the comma is
  ``0`` or has four digits or more, or the part after has two digits, or four
  or more). ``1,000`` stays 1000; ``2,3`` stays the pair 2, 3.
* A comma followed by a space is never a thousands separator: ``32, 349`` is
  the pair 32, 349 (normalised as ``32, 349``), never 32349.
* Relations are written one way: ``>=``, ``\\ge``, ``\\geqslant`` and ``≥`` become
  ``\\geq``; likewise ``\\leq`` and ``\\neq``; ``\\lt``/``\\gt`` become ``<``/``>``.

What it keeps
-------------
* Percent signs (``50\\%``): math-verify gives them meaning (see :mod:`.compare`).
* Text answers (``\\text{Evelyn}``) and multiple-choice letters
  (``\\text{(C)}``): :func:`text_answer` and :func:`choice_letter` recognise them
  so that :mod:`.compare` can treat them as words and letters, not as products
  of single-letter symbols.
"""

from __future__ import annotations

import re
from fractions import Fraction

from thinktree.grading.extract import clean_answer

_FRAC_VARIANTS = re.compile(r"\\[dtc]frac(?![a-zA-Z])")
_LEFT_RIGHT = re.compile(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big)(?![a-zA-Z])\s*(\.)?")
# A LaTeX row break (two backslashes) is kept whole; "\\ " after it is not a space command.
_SPACING = re.compile(r"(\\\\)|\\[,;: ]|\\quad(?![a-zA-Z])|\\qquad(?![a-zA-Z])|~")
_DISCARD = re.compile(r"\\!|\\displaystyle(?![a-zA-Z])|\\textstyle(?![a-zA-Z])")
# "11,\! 111": the \! marks the comma as a thousands separator, space or not.
_THIN_THOUSANDS = re.compile(r"(?<=\d),\\!\s*(?=\d{3}(?!\d))")
_BRACED_COMMA = re.compile(r"\{,\}")
_DEGREES = re.compile(
    r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![a-zA-Z])|\\circ(?![a-zA-Z])|°|\\degree(?![a-zA-Z])"
)
_PERCENT_WORD = re.compile(
    r"\s*(?:\\text\{\s*(?:percent|percentage|pct)\s*\}|\b(?:percent|percentage|pct)\b)"
)
_BARE_PERCENT = re.compile(r"(?<!\\)%")
_CURRENCY = re.compile(
    r"\\\$|\$|\\text\{\s*\\?\$\s*\}|\bUSD\b|\\(?:euro|pounds)(?![a-zA-Z])|[€£¥₹]"
)
_MONEY_WORDS = re.compile(
    r"\s*(?:\\(?:text|mbox|mathrm)\{\s*(?:dollars?|USD)\s*\}|\b(?:dollars?)\b)"
)

# A unit tail: \text{...} blocks and plain words (2+ letters, after a space: "5xy"
# is a product, "5 cm" a unit) after a number, with an optional power (cm^2).
# Math words that look like units are refused below.
_UNIT_TAIL = re.compile(
    r"(?:\s*(?:\\(?:text|mbox|mathrm|textrm|textnormal|textit)\s*\{[^{}]*\}"
    r"|(?<=\s)[a-zA-Z]{2,}\.?)"
    r"(?:\s*\^\s*\{?\s*[23]\s*\}?)?)+\s*$"
)
_MATH_WORDS = frozenset(
    {"pi", "sqrt", "inf", "infty", "infinity", "and", "or", "mod", "sin", "cos", "tan",
     "cot", "sec", "csc", "log", "ln", "exp", "ne", "le", "ge", "lt", "gt", "cdot", "times"}
)  # fmt: skip
_LATEX_IN_NUMBER = re.compile(r"\\(?:frac|sqrt|pi|cdot|times|%)(?![a-zA-Z])")
_NUMBER_CHARS = frozenset("0123456789.,+-*/^(){}[] ")
_ASSIGNMENT_PREFIX = re.compile(r"^[a-zA-Z]\s*=\s*")
_NUMBER_END = re.compile(r"(?:[\d})]|\\pi|\\%)$")

# "\text{5 apples}": a whole answer in \text{} that starts with a number.
_NUMBER_IN_TEXT = re.compile(r"^\\text\{\s*([-+]?[\d.,]*\d[\d.,]*\s+[a-zA-Z][a-zA-Z ]*)\}$")
_REPEATING_DECIMAL = re.compile(r"(-?)(\d*)\.(\d*)\\overline\s*\{(\d+)\}")
_DECIMAL_COMMA = re.compile(r"^([-+]?)(\d+),(\d+)$")
_PAIR_COMMA = re.compile(r"(?<=\d),\s+(?=\d{3}(?!\d))")
_PAIR_MARK = "\x00"
_RELATIONS = (
    (re.compile(r"\\geqslant(?![a-zA-Z])|\\ge(?![a-zA-Z])|>=|≥"), r" \\geq "),
    (re.compile(r"\\leqslant(?![a-zA-Z])|\\le(?![a-zA-Z])|<=|≤"), r" \\leq "),
    (re.compile(r"\\ne(?![a-zA-Z])|!=|≠"), r" \\neq "),
    (re.compile(r"\\lt(?![a-zA-Z])"), "<"),
    (re.compile(r"\\gt(?![a-zA-Z])"), ">"),
)
_THOUSANDS = re.compile(r"^[-+]?[1-9]\d{0,2}(?:(?:,|\s)\d{3})+(?:\.\d+)?$")
_PLAIN_NUMBER = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)$")
_SPACE_AROUND = re.compile(r"\s*([,+\-=()\[\]{}^_/*<>|])\s*")
_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_COMMAND = re.compile(r"(?<=[\d)}\]])\s+(?=\\)")
"""``2 \\pi`` -> ``2\\pi``: a space between a number and a command means nothing in LaTeX."""
_NUM = r"(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?"
_PYTHON_COMPLEX = re.compile(rf"^\(?\s*([-+]?(?:{_NUM}\s*[-+]\s*)?{_NUM})j\s*\)?$")

_TEXT_WRAPPER = re.compile(
    r"\\(?:text|textbf|textit|textrm|textnormal|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}"
)
_CHOICE = re.compile(r"^\(?([A-E])\)?$")
_CHOICE_LEADING = re.compile(r"^\(([A-E])\)|^([A-E])\)|^([A-E])[.:](?:\s|$)")
_TEXT_WORDS = re.compile(r"^[A-Za-z][A-Za-z' \-]*$")
_ARTICLES = frozenset({"a", "an", "the"})


def normalise(answer: str) -> str:
    """The canonical form of an extracted answer (see the module docstring)."""
    s = clean_answer(answer)
    s = s.replace("\n", " ").replace("\t", " ")
    s = _NUMBER_IN_TEXT.sub(r"\1", s)
    s = _REPEATING_DECIMAL.sub(_repeating_to_fraction, s)
    s = _FRAC_VARIANTS.sub(r"\\frac", s)
    s = _LEFT_RIGHT.sub("", s)
    s = _THIN_THOUSANDS.sub(",", s)
    s = _DISCARD.sub("", s)
    s = _BRACED_COMMA.sub(",", s)
    s = _SPACING.sub(lambda m: m.group(1) or " ", s)
    s = _DEGREES.sub("", s)
    s = _PERCENT_WORD.sub(r"\\%", s)
    s = _BARE_PERCENT.sub(r"\\%", s)
    s = _MONEY_WORDS.sub(" ", s)
    s = _CURRENCY.sub("", s)
    s = _strip_unit_tail(s.strip())
    s = _SPACES.sub(" ", s).strip()
    s = _PYTHON_COMPLEX.sub(r"\1i", s)
    s = s.rstrip(".").strip() if not s.endswith("..") else s
    s = s.replace(",", "").replace(" ", "") if _THOUSANDS.match(s) else _decimal_comma(s)
    for pattern, replacement in _RELATIONS:
        s = pattern.sub(replacement, s)
    s = _PAIR_COMMA.sub("," + _PAIR_MARK, s)
    s = _SPACE_BEFORE_COMMAND.sub("", s)
    s = _SPACE_AROUND.sub(r"\1", s)
    s = _SPACES.sub(" ", s).strip()
    return s.replace(_PAIR_MARK, " ")


def _decimal_comma(s: str) -> str:
    """``1,22`` -> ``1.22`` when the comma cannot separate thousands (see the docstring)."""
    match = _DECIMAL_COMMA.match(s)
    if match is None:
        return s
    sign, whole, fraction = match.groups()
    if whole == "0" or len(whole) >= 4 or len(fraction) == 2 or len(fraction) >= 4:
        return f"{sign}{whole}.{fraction}"
    return s


def _repeating_to_fraction(match: re.Match[str]) -> str:
    """``0.1\\overline{6}`` -> ``\\frac{1}{6}``: the exact value of a repeating decimal."""
    sign, whole, fixed, repeating = (
        match.group(1),
        match.group(2) or "0",
        match.group(3),
        match.group(4),
    )
    value = Fraction(
        int(whole + fixed + repeating) - int(whole + fixed),
        10 ** len(fixed) * (10 ** len(repeating) - 1),
    )
    return f"{sign}\\frac{{{value.numerator}}}{{{value.denominator}}}"


def _strip_unit_tail(s: str) -> str:
    match = _UNIT_TAIL.search(s)
    if match is None or match.start() == 0:
        return s
    tail_words = re.findall(r"(?<![\\a-zA-Z])[a-zA-Z]+", _TEXT_WRAPPER.sub(r" \1 ", match.group()))
    if any(word.lower() in _MATH_WORDS for word in tail_words):
        return s
    head = s[: match.start()].strip()
    return head if _is_numeric(head) and _NUMBER_END.search(head) else s


def _is_numeric(s: str) -> bool:
    """True for a number-like expression: digits, operators, \\frac, \\sqrt, \\pi."""
    s = _ASSIGNMENT_PREFIX.sub("", s)
    if not any(ch.isdigit() for ch in s):
        return False
    return set(_LATEX_IN_NUMBER.sub("", s)) <= _NUMBER_CHARS


def plain_number(s: str) -> Fraction | None:
    """The exact value of a normalised plain decimal (``18``, ``-0.5``, ``.25``), else None."""
    if not _PLAIN_NUMBER.match(s):
        return None
    return Fraction(s)


def choice_letter(s: str) -> str | None:
    """The letter of a multiple-choice answer: ``C``, ``(C)``, ``\\text{(C)}``, ``(C) Plane``."""
    unwrapped = _TEXT_WRAPPER.sub(r"\1", s).strip()
    match = _CHOICE.match(unwrapped)
    if match:
        return match.group(1)
    match = _CHOICE_LEADING.match(unwrapped)
    if match:
        return match.group(1) or match.group(2) or match.group(3)
    return None


def is_choice_gold(s: str) -> bool:
    """True when a gold answer is a bare choice letter (``B``, ``(B)``, ``\\text{(B)}``)."""
    return _CHOICE.match(_TEXT_WRAPPER.sub(r"\1", s).strip()) is not None


def text_answer(s: str) -> str | None:
    """Lower-case words of an answer made of words (``\\text{Evelyn}``, ``east``), else None.

    An answer is words when, with ``\\text{}`` wrappers removed, it holds only
    letters, spaces, hyphens and apostrophes, has a word of three letters or
    more, and no word is math (``sin x``, ``pi``). Articles are dropped.
    """
    unwrapped = _TEXT_WRAPPER.sub(r" \1 ", s).strip()
    if not unwrapped or not _TEXT_WORDS.match(unwrapped):
        return None
    words = [w for w in re.split(r"[\s\-]+", unwrapped.lower()) if w]
    if not any(len(w) >= 3 for w in words) or any(w in _MATH_WORDS for w in words):
        return None
    return " ".join(w for w in words if w not in _ARTICLES)
