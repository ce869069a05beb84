"""Grouping answers into equivalence classes, for majority voting (sc@k, maj@k).

:func:`group_answers` gives each answer a class id: answers in one class are
equivalent under the grader. Classes are built greedily in order: an answer joins
the first existing class whose first member (its representative) it is
equivalent to, taking the representative as gold (the grader is asymmetric, see
:mod:`.compare`); otherwise it founds a new class. Class ids count up from 0 in
order of first appearance; a missing answer (``None`` or empty) gets ``-1`` and
never votes.

Speed: identical normalised answers share a class without any comparison, and
plain numbers (all of GSM8K) are decided in-process, so grouping 64 GSM8K answers
never starts a worker. Only pairs the fast path cannot decide go to a
:class:`~thinktree.grading.Grader` (the one passed in, else a shared one).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from thinktree.grading.compare import ROUNDING_GAP, fast_compare
from thinktree.grading.grader import Grader, default_grader
from thinktree.grading.normalise import normalise, plain_number


def answers_equivalent(a: str | None, b: str | None, grader: Grader | None = None) -> bool:
    """Are two extracted answers equivalent (``b`` taken as the reference)?"""
    if not a or not b:
        return False
    na, nb = normalise(a), normalise(b)
    decided = fast_compare(na, nb)
    if decided is not None:
        return decided
    return (grader or default_grader()).equivalent_normalised([(na, nb)])[0]


def group_answers(answers: Sequence[str | None], grader: Grader | None = None) -> list[int]:
    """A class id per answer (see the module docstring); ``-1`` for no answer."""
    class_of_key: dict[str, int] = {}
    class_of_value: dict[Fraction, int] = {}
    representatives: list[str] = []
    rep_values: list[Fraction | None] = []
    ids: list[int] = []
    for answer in answers:
        key = normalise(answer) if answer else ""
        if not key:
            ids.append(-1)
            continue
        class_id = class_of_key.get(key)
        if class_id is None:
            value = plain_number(key)
            class_id = class_of_value.get(value) if value is not None else None
            if class_id is None:
                class_id = _find_class(key, value, representatives, rep_values, grader)
                if class_id == len(representatives):
                    representatives.append(key)
                    rep_values.append(value)
            class_of_key[key] = class_id
            if value is not None:
                class_of_value.setdefault(value, class_id)
        ids.append(class_id)
    return ids


def _find_class(
    key: str,
    value: Fraction | None,
    representatives: list[str],
    rep_values: list[Fraction | None],
    grader: Grader | None,
) -> int:
    """Index of the first equivalent representative, or ``len(representatives)``."""
    undecided: list[int] = []
    found = len(representatives)
    for i, rep in enumerate(representatives):
        rep_value = rep_values[i]
        if value is not None and rep_value is not None and _surely_different(value, rep_value):
            continue  # two plain numbers: no regex, no worker (all of GSM8K)
        decided = fast_compare(key, rep)
        if decided is True:
            found = i
            break
        if decided is None:
            undecided.append(i)
    if undecided:
        checker = grader or default_grader()
        verdicts = checker.equivalent_normalised([(key, representatives[j]) for j in undecided])
        for j, same in zip(undecided, verdicts, strict=True):
            if same:
                return j
    return found


def _surely_different(a: Fraction, b: Fraction) -> bool:
    if a == b:
        return False
    both_integers = a.denominator == 1 and b.denominator == 1
    return both_integers or abs(a - b) >= ROUNDING_GAP
