"""Majority voting over final answers, with equivalence decided by the grader."""

from __future__ import annotations

from collections.abc import Callable, Sequence


def majority_vote(
    answers: Sequence[str | None],
    same: Callable[[str, str], bool],
    weights: Sequence[float] | None = None,
) -> tuple[str | None, dict[str, float]]:
    """The answer of the heaviest class of equivalent answers, and each class's weight.

    ``None`` answers do not vote. A class is named by its first member; ties go to
    the class found first.
    """
    classes: list[tuple[str, float]] = []
    for i, answer in enumerate(answers):
        if answer is None:
            continue
        weight = 1.0 if weights is None else float(weights[i])
        for j, (name, total) in enumerate(classes):
            if same(name, answer):
                classes[j] = (name, total + weight)
                break
        else:
            classes.append((answer, weight))
    if not classes:
        return None, {}
    best = max(range(len(classes)), key=lambda j: (classes[j][1], -j))
    return classes[best][0], {name: round(total, 6) for name, total in classes}
