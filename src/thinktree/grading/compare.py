"""Stage 3 of grading: are two normalised answers the same mathematical object?

Two comparisons live here, both taking the outputs of :func:`.normalise`:

* :func:`fast_compare` - pure Python, runs in the caller's process, decides the
  obvious cases (identical strings, plain numbers, choice letters, text
  answers) and returns ``None`` for everything else;
* :func:`math_verify_compare` - math-verify (parse to SymPy, then ``verify``)
  plus our corrections. It can take unbounded time on hostile input, so it is
  only ever called inside a grader worker process (:mod:`.worker`), with
  math-verify's own SIGALRM timeouts disabled; the parent enforces the deadline.

Semantics, including the surprising parts
-----------------------------------------
* **Asymmetric.** math-verify's ``verify(gold, pred)`` is deliberately not
  symmetric and neither are we: gold ``x=5`` accepts pred ``5`` and pred
  ``x=5`` accepts gold ``5``, but gold ``2x+z=1`` does not accept ``1``; a
  gold equation is solved and compared with the pred's solutions. Always pass
  the reference as ``gold``. For grouping answers see :mod:`.voting`.
* **Numbers.** Exact values compare exactly (``0.5`` = ``\\frac12`` = ``1/2``).
  A decimal with six or more places equals the exact value it rounds from
  (``0.333333`` = ``\\frac13``); a shorter one does not (``0.33`` and ``3.14``
  are approximations, not the answer). math-verify compares decimals after
  rounding to six *places*, which makes every pair of numbers below 1e-6 equal
  and ``1/2004!`` equal ``1/2006!``; we additionally require a relative
  difference of at most 1e-5 between two numeric answers.
* **Percentages.** ``50\\%`` equals ``50`` (the question asked "what percent")
  and also ``0.5`` and ``\\frac12`` (50 % *is* one half). ``50`` does not
  equal ``0.5``.
* **Text answers** (``\\text{Evelyn}``, ``east``, ``even``) compare as
  lower-case words, articles dropped. A text gold never equals a math pred.
* **Multiple choice.** A gold that is a letter A-E (``\\text{(C)}``) is matched
  by the letter of the pred (``C``, ``(C)``, ``\\textbf{(C)} Plane``), never by
  the option's content, which the grader does not see.
* **Form is not checked.** ``ab+2a+5b+10`` equals gold ``(a+5)(b+2)`` even when
  the question said "factor"; ``\\frac{4}{6}`` equals ``\\frac23``. The grader
  sees answers, not questions.
* **Sets and tuples.** ``1,-2`` equals ``-2,1`` (an unordered list of
  solutions), a tuple ``(3,-1)`` does not equal ``(-1,3)``, and ``(2,\\infty)``
  is an open interval. A pred ``3,-1`` equals gold ``(3,-1)``.
"""

from __future__ import annotations

import functools
import logging
import re
from fractions import Fraction
from typing import Any

from thinktree.grading.normalise import (
    choice_letter,
    is_choice_gold,
    plain_number,
    text_answer,
)

RELATIVE_TOLERANCE = 1e-5
"""Two numeric answers further apart than this (relative) are never equivalent."""

ROUNDING_GAP = Fraction(1, 10**6)
"""math-verify rounds decimals to 6 places; numbers this far apart never round together."""


_POWER_OF_ONE = re.compile(r"^1\^(?:\d+|\{[\d{}()^+*]+\})$")
"""``1^{(2^{235423523})}``: one, whatever the numeric exponent. SymPy would first compute
the exponent (math500 #65: seconds for a 235-million-bit integer)."""


def fast_compare(pred: str, gold: str) -> bool | None:
    """Decide the obvious cases without SymPy; ``None`` means "ask math-verify"."""
    if not pred or not gold:
        return False
    pred, gold = (_POWER_OF_ONE.sub("1", s) for s in (pred, gold))
    if is_choice_gold(gold):
        return choice_letter(pred) == choice_letter(gold)
    gold_words = text_answer(gold)
    if gold_words is not None:
        return text_answer(pred) == gold_words
    if pred == gold:
        return True
    if text_answer(pred) is not None:
        return False
    if pred.endswith("\\%") or gold.endswith("\\%"):
        # "12.5\%" answers gold "12.5"; whether it also answers 0.125 is math-verify's call.
        if _same_plain_number(_strip_percent(pred), _strip_percent(gold)):
            return True
        return None
    a, b = plain_number(pred), plain_number(gold)
    if a is not None and b is not None:
        if a == b:
            return True
        if a.denominator == 1 and b.denominator == 1:
            return False
        if abs(a - b) >= ROUNDING_GAP:
            return False
    return None


def _strip_percent(s: str) -> str:
    return s[:-2] if s.endswith("\\%") else s


def _same_plain_number(a: str, b: str) -> bool:
    x, y = plain_number(a), plain_number(b)
    return x is not None and x == y


def math_verify_compare(pred: str, gold: str) -> bool:
    """math-verify's verdict with our corrections. Slow, unbounded: call in a worker only."""
    if (pred.endswith("\\%") or gold.endswith("\\%")) and _math_verify_compare(
        _strip_percent(pred), _strip_percent(gold)
    ):
        return True
    return _math_verify_compare(pred, gold)


def _math_verify_compare(pred: str, gold: str) -> bool:
    from math_verify import verify

    gold_parsed = list(_parse(gold))
    pred_parsed = list(_parse(pred))
    if not gold_parsed or not pred_parsed:
        return False
    gold_parsed, pred_parsed = _vectors_as_tuples(gold_parsed, pred_parsed)
    # allow_set_relation_comp: a pred "x > 5" answers the interval gold (5, oo).
    if not verify(gold_parsed, pred_parsed, timeout_seconds=None, allow_set_relation_comp=True):
        return False
    close = _numerically_close(gold_parsed[0], pred_parsed[0])
    return close is not False


def _vectors_as_tuples(gold: list[Any], pred: list[Any]) -> tuple[list[Any], list[Any]]:
    """A column/row vector on one side and a tuple on the other: compare both as tuples."""
    import sympy

    def is_vector(x: Any) -> bool:
        return isinstance(x, sympy.MatrixBase) and 1 in x.shape

    def as_tuple(x: Any) -> Any:
        return sympy.Tuple(*list(x)) if is_vector(x) else x

    g, p = gold[0], pred[0]
    if (is_vector(g) and isinstance(p, sympy.Tuple)) or (
        is_vector(p) and isinstance(g, sympy.Tuple)
    ):
        return [as_tuple(g), *gold[1:]], [as_tuple(p), *pred[1:]]
    return gold, pred


@functools.lru_cache(maxsize=4096)
def _parse(answer: str) -> list[Any]:
    """math-verify's parse of one normalised answer, cached per worker.

    A gold answer is checked against many predictions (samples, votes, a
    regrade), and a cached parse saves the LaTeX-to-SymPy conversion, the
    costliest step. The cache holds SymPy objects, which are immutable; a
    worker killed at a deadline takes its cache with it.
    """
    from math_verify import LatexExtractionConfig, parse

    # The answer is already extracted: box it so that math-verify reads all of it
    # as LaTeX. Handing it over bare lets math-verify's plain-text extractor pick
    # one number out of "\sqrt{3}/3".
    return parse(
        "\\boxed{" + answer + "}",
        extraction_config=[LatexExtractionConfig(boxed_match_priority=0)],
        fallback_mode="first_match",
        parsing_timeout=None,  # type: ignore[arg-type]  # our worker enforces the deadline
    )


def _numerically_close(gold: Any, pred: Any) -> bool | None:
    """For two numeric expressions: within :data:`RELATIVE_TOLERANCE`? ``None`` if not numeric."""
    import sympy

    if not (_is_plain_numeric(gold) and _is_plain_numeric(pred)):
        return None
    a = sympy.N(gold, 30)
    b = sympy.N(pred, 30)
    if not (a.is_real and b.is_real and a.is_finite and b.is_finite):
        return None
    if a == b:
        return True
    scale = max(abs(a), abs(b))
    return bool(abs(a - b) <= RELATIVE_TOLERANCE * scale)


def _is_plain_numeric(expr: Any) -> bool:
    import sympy

    if not isinstance(expr, sympy.Expr) or isinstance(expr, sympy.MatrixBase):
        return False
    if expr.free_symbols:
        return False
    # Percentages are X * UnevaluatedExpr(1/100): their comparison rules are
    # math-verify's (50% = 50 = 0.5), not a numeric distance.
    return not expr.has(sympy.UnevaluatedExpr)


def quiet_math_verify() -> None:
    """Silence math-verify's per-call warnings (timeouts disabled, parse failures)."""
    for name in ("math_verify", "latex2sympy2_extended"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
