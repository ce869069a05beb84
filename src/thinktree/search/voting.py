"""Voting over final answers: the one tie rule, and the majority vote built on it.

:func:`leading` is the only place the tie rule is written: the heaviest class
wins and, among equals, the class found first. The majority vote below, the
selection rules over scored samples (:mod:`thinktree.search.selection`), the
settle rules (:mod:`thinktree.search.settle`), MCTS's answer choice
(:func:`thinktree.search.mcts.tree.choose_answer`) and the stored-run metrics
(:mod:`thinktree.eval.metrics`) all pick their winner with it, so a settled
leader, a vote and a maj@k agree on every tie.
"""

from __future__ import annotations

from collections.abc import Sequence

from thinktree.grading.voting import Same, answer_classes


def leading(weights: Sequence[float]) -> int | None:
    """The index of the heaviest of ``weights`` (classes in the order they were found);
    ties go to the class found first, the lowest index. None when there is none."""
    best: int | None = None
    for index, weight in enumerate(weights):
        if best is None or weight > weights[best]:
            best = index
    return best


def majority_vote(
    answers: Sequence[str | None],
    same: Same,
    weights: Sequence[float] | None = None,
) -> tuple[str | None, dict[str, float]]:
    """The answer of the heaviest class of equivalent answers, and each class's weight.

    Classes are :func:`thinktree.grading.voting.answer_classes`'s; ``None`` answers do
    not vote. A class is named by its first member; the winner is :func:`leading`'s.
    """
    names: list[str] = []
    totals: list[float] = []
    for i, class_id in enumerate(answer_classes(answers, same)):
        if class_id < 0:
            continue
        weight = 1.0 if weights is None else float(weights[i])
        if class_id == len(names):
            names.append(answers[i])  # type: ignore[arg-type]  # a class's first member
            totals.append(weight)
        else:
            totals[class_id] += weight
    best = leading(totals)
    if best is None:
        return None, {}
    return names[best], {name: round(total, 6) for name, total in zip(names, totals, strict=True)}
