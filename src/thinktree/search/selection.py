"""Selection rules: the answer a set of finished samples gives, from their answers and scores.

Every rule has one signature, ``rule(answers, scores, same) -> (answer, votes)``:
``answers[i]`` and ``scores[i]`` are sample ``i``'s (in the order drawn), ``same``
says whether two answers are equivalent, and ``votes`` is what the rule weighed per
answer (stored with the row). Every winner is :func:`thinktree.search.voting.leading`'s,
so ties go to the class, or the sample, found first. A sample without an answer casts
nothing; under a scored rule neither does a sample without a score.

- :func:`majority`: the plain vote, scores unread (self-consistency; for reference).
- :func:`weighted`: scores summed per class of equivalent answers, each score ``s``
  in [−1, 1] (the PPM's range) counted as ``(s + 1) / 2``, the best rule in
  search-and-learn (their PRM gives a probability in [0, 1] and they sum it per
  answer). Why shifted rather than summed raw: a raw negative score would subtract,
  so a class of two samples at −0.5 (−1.0) would lose to one sample at −0.6, more
  agreement counting against an answer; shifted, every weight is in [0, 1], a sample
  never lowers its class, and equal scores give the majority vote. The same shift
  turns MCTS's Q-values into its Q-weighted votes (``choose_answer``).
- :func:`best`: the single best-scored sample's answer (best-of-N, and ``thinktree
  rescore``'s rule before rules were named); its votes are each answer's best score,
  answers compared as written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from thinktree.grading.voting import Same
from thinktree.search.voting import leading, majority_vote

Choice = tuple[str | None, dict[str, float]]
Selection = Callable[[Sequence[str | None], Sequence[float | None], Same], Choice]


def majority(answers: Sequence[str | None], scores: Sequence[float | None], same: Same) -> Choice:
    """The majority vote over equivalent answers; ``scores`` are not read."""
    return majority_vote(answers, same)


def weighted(answers: Sequence[str | None], scores: Sequence[float | None], same: Same) -> Choice:
    """The class of equivalent answers whose ``(s + 1) / 2`` add up highest."""
    voting = [a if s is not None else None for a, s in zip(answers, scores, strict=True)]
    weights = [0.0 if s is None else (s + 1.0) / 2.0 for s in scores]
    return majority_vote(voting, same, weights)


def best(answers: Sequence[str | None], scores: Sequence[float | None], same: Same) -> Choice:
    """The answer of the sample scored highest (ties: the earlier sample)."""
    return best_scored(
        [(a, s) for a, s in zip(answers, scores, strict=True) if a is not None and s is not None]
    )


def best_scored(scored: Sequence[tuple[str, float]]) -> Choice:
    """:func:`best` over (answer, score) samples in sample order: the answer scored
    highest (ties to the earlier sample), and each answer's best score."""
    top = leading([score for _, score in scored])
    if top is None:
        return None, {}
    votes: dict[str, float] = {}
    for answer, score in scored:
        votes[answer] = max(votes.get(answer, -1.0), round(score, 6))
    return scored[top][0], votes


SELECTIONS: dict[str, Selection] = {"majority": majority, "weighted": weighted, "best": best}
"""The rules by name, as ``thinktree rescore --select`` names them."""
