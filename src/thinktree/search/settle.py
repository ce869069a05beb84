"""When a problem's answers have settled, so its search may stop early (``settle``).

Rules, over the answers found so far in discovery order (``None`` answers, i.e.
samples or branches that ended without one, do not count):

- ``"off"``: never settled; the full budget is spent.
- ``"agree"``: settled once at least ``m`` answers are found and the first ``m``
  are all equivalent. Once any of the first ``m`` disagrees it can never settle.
- ``"beta"`` (after Adaptive-Consistency, Aggarwal et al. 2023): with ``a`` votes
  for the leading class and ``b`` for the runner-up (0 if there is none), the
  leader's share ``p`` of the two has a Beta(a + 1, b + 1) posterior under a
  uniform prior; settled once at least ``m`` answers are found and
  ``P(p > 1/2) >= confidence``. That probability is exact:
  ``P(Binomial(a + b + 1, 1/2) <= a)``. For example 3 agreeing answers give
  0.9375, 4 give 0.96875, 4 against 1 give 0.890625.

Classes are formed as :func:`thinktree.search.voting.majority_vote` forms them
(named by their first member, ties to the class found first), so the settled
leader is the answer the vote picks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from thinktree.search.voting import majority_vote


def leader_confidence(a: int, b: int) -> float:
    """P(p > 1/2) for p ~ Beta(a + 1, b + 1): the leader's posterior chance to lead."""
    n = a + b + 1
    return sum(math.comb(n, i) for i in range(a + 1)) / 2**n


def settled(
    answers: Sequence[str | None],
    same: Callable[[str, str], bool],
    rule: str,
    m: int,
    confidence: float = 0.95,
) -> bool:
    """Whether ``answers`` (in discovery order) have settled under ``rule``."""
    if rule == "off":
        return False
    found = [a for a in answers if a is not None]
    if len(found) < m:
        return False
    if rule == "agree":
        return all(same(found[0], a) for a in found[1:m])
    if rule == "beta":
        _, votes = majority_vote(found, same)
        ranked = sorted(votes.values(), reverse=True)
        a = int(ranked[0])
        b = int(ranked[1]) if len(ranked) > 1 else 0
        return leader_confidence(a, b) >= confidence
    raise ValueError(f"unknown settle rule {rule!r}; use off, agree or beta")
