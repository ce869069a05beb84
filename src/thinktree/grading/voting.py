"""Grouping answers into classes of equivalent answers: the one rule every vote uses.

:func:`answer_classes` is the only grouping in thinktree; majority voting
(:func:`thinktree.search.voting.majority_vote`), MCTS's answer values and answer
choice, the per-sample classes a run stores (pass@k, maj@k) and
:func:`group_answers` below all call it. The rule:

- Answers are taken in order. An answer joins the first existing class whose
  first member (its representative) it is equivalent to; otherwise it founds a
  new class. Class ids count up from 0 in order of first appearance; a missing
  answer (``None``) gets ``-1`` and never votes.
- The grader is asymmetric (see :mod:`.compare`), so the side matters: the
  representative is the prediction and the newcomer the reference,
  ``same(representative, newcomer)``, i.e. ``check(pred=representative,
  gold=newcomer)``. Why this side: a class's representative is the answer a
  vote returns, and that answer is graded as a prediction against the gold
  answer; grouping asks of it the same question, with each newcomer as the
  reference. (Before this rule was written down, :func:`group_answers` took the
  representative as gold while the searches took it as the prediction.)

:func:`group_answers` is the grader's own fast grouping of raw answers: answers
are normalised first (an answer that normalises to nothing is missing),
identical normalised answers and plain numbers of one value share a class
without any comparison, and plain numbers (all of GSM8K) are decided
in-process, so grouping 64 GSM8K answers never starts a worker. Only pairs the
fast path cannot decide go to a :class:`~thinktree.grading.Grader` (the one
passed in, else a shared one).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

from thinktree.grading.compare import fast_compare
from thinktree.grading.grader import Grader, default_grader
from thinktree.grading.normalise import normalise, plain_number

Same = Callable[[str, str], bool]
"""``same(representative, newcomer)``: is the newcomer in the representative's class?"""


def answer_classes(
    answers: Sequence[str | None],
    same: Same,
    key: Callable[[str], Hashable] | None = None,
) -> list[int]:
    """A class id per answer, by the rule in the module docstring; ``-1`` for ``None``.

    ``key``, when given, names answers known to be equivalent: an answer whose key
    an earlier answer had joins that answer's class without calling ``same``.
    """
    class_of_key: dict[Hashable, int] = {}
    representatives: list[str] = []
    ids: list[int] = []
    for answer in answers:
        if answer is None:
            ids.append(-1)
            continue
        known = key(answer) if key is not None else None
        class_id = class_of_key.get(known) if known is not None else None
        if class_id is None:
            class_id = next(
                (i for i, rep in enumerate(representatives) if same(rep, answer)),
                len(representatives),
            )
            if class_id == len(representatives):
                representatives.append(answer)
            if known is not None:
                class_of_key[known] = class_id
        ids.append(class_id)
    return ids


def answers_equivalent(a: str | None, b: str | None, grader: Grader | None = None) -> bool:
    """Are two extracted answers equivalent (``b`` taken as the reference)?"""
    if not a or not b:
        return False
    return _equivalent_normalised(normalise(a), normalise(b), grader)


def group_answers(answers: Sequence[str | None], grader: Grader | None = None) -> list[int]:
    """A class id per raw answer (see the module docstring); ``-1`` for no answer."""
    keys = [normalise(answer) if answer else "" for answer in answers]

    def same(representative: str, newcomer: str) -> bool:
        return _equivalent_normalised(representative, newcomer, grader)

    return answer_classes([k or None for k in keys], same, key=_value_key)


def _value_key(normalised: str) -> Hashable:
    """Plain numbers by value (``18`` and ``18.0`` are one), anything else by its text."""
    value = plain_number(normalised)
    return normalised if value is None else value


def _equivalent_normalised(pred: str, gold: str, grader: Grader | None) -> bool:
    decided = fast_compare(pred, gold)
    if decided is not None:
        return decided
    return (grader or default_grader()).equivalent_normalised([(pred, gold)])[0]
