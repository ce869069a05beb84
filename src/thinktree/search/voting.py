"""Majority voting over final answers, with equivalence decided by the grader."""

from __future__ import annotations

from collections.abc import Sequence

from thinktree.grading.voting import Same, answer_classes


def majority_vote(
    answers: Sequence[str | None],
    same: Same,
    weights: Sequence[float] | None = None,
) -> tuple[str | None, dict[str, float]]:
    """The answer of the heaviest class of equivalent answers, and each class's weight.

    Classes are :func:`thinktree.grading.voting.answer_classes`'s; ``None`` answers do
    not vote. A class is named by its first member; ties go to the class found first.
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
    if not names:
        return None, {}
    best = max(range(len(names)), key=lambda j: (totals[j], -j))
    return names[best], {name: round(total, 6) for name, total in zip(names, totals, strict=True)}
