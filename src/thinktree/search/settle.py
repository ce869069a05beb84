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

- ``"decided"`` (self-consistency, and MCTS where each rollout ends in at most one
  answer and the vote picks the answer: lazy expansion, no scorer, ``agreement =
  "all"``): settled once no answers the ``remaining`` samples (rollouts) could give
  would change what the vote over all of them picks; ``m`` is not used. The vote's
  answer is then the one the full budget would have voted for from the same
  samples, so stopping loses nothing: a run's accuracy stays that of the full
  budget's, up to sampling noise. (Waves draw other samples than one call for all
  N would: later waves have seeds of their own, and with several slots llama.cpp's
  batched logits differ in the last bits. So a settled run and an sc@N run agree
  in expectation, not problem by problem.)
- ``"confident"`` (where ``"decided"`` applies; after DeepConf, Fu et al. 2025, which
  stops on a trace's token confidence): settled as under ``"decided"``, or once the
  first sample (MCTS: the first rollout) has an answer and its token probability
  (:func:`token_probability`) is at least ``trusted_probability``. The one rule
  that can stop after a single sample, so the only one that can spend less than
  half of sc@N's tokens; what a confident wrong first sample costs is the vote the
  other samples would have cast.

Classes are formed as :func:`thinktree.search.voting.majority_vote` forms them
(named by their first member) and led by :func:`thinktree.search.voting.leading`
(ties to the class found first), so the settled leader is the answer the vote picks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from thinktree.search.voting import leading, majority_vote
from thinktree.steps import Step

SETTLE_RULES = frozenset({"off", "agree", "beta", "decided", "confident"})
"""Every rule above (a strategy declares those it honours)."""

# The rules that reason about the answers still to come: they need those bounded by
# the draws left (one answer a sample, or a lazy rollout; a fully expanded tree can
# find several a rollout) and the answer to be the vote's (no scorer).
VOTE_RULES = ("decided", "confident")


def leader_confidence(a: int, b: int) -> float:
    """P(p > 1/2) for p ~ Beta(a + 1, b + 1): the leader's posterior chance to lead."""
    n = a + b + 1
    return sum(math.comb(n, i) for i in range(a + 1)) / 2**n


def token_probability(steps: Sequence[Step]) -> float | None:
    """The geometric mean of a trajectory's token probabilities: exp of its steps'
    mean log-probabilities weighted by their tokens (None without any)."""
    weighted = [(s.tokens, s.mean_logprob) for s in steps if s.mean_logprob is not None]
    tokens = sum(n for n, _ in weighted)
    if not tokens:
        return None
    return math.exp(sum(n * lp for n, lp in weighted) / tokens)


def class_sizes(answers: Sequence[str | None], same: Callable[[str, str], bool]) -> list[int]:
    """The size of each class of equivalent answers, in the order classes were found
    (the vote's classes: its totals are kept in that order)."""
    return [int(total) for total in majority_vote(answers, same)[1].values()]


def vote_decided(sizes: Sequence[int], remaining: int) -> bool:
    """Whether ``remaining`` more answers cannot change the vote's winner among classes
    of ``sizes`` (in the order found; ties go to the class found first)."""
    lead = leading(sizes)
    if lead is None:
        return remaining == 0
    top = sizes[lead]
    if remaining > top:  # a new class, found last, could outvote the leader
        return False
    for j, size in enumerate(sizes):
        # An earlier class wins a tie with the leader; a later one must pass it.
        if j != lead and size + remaining >= top + (0 if j < lead else 1):
            return False
    return True


def draws_to_decide(sizes: Sequence[int], remaining: int) -> int:
    """The fewest further answers after which the vote could be decided (if they all
    join the leader, or found the first class): where fewer cannot decide it, drawing
    that many at once wastes nothing."""
    lead = leading(sizes)
    for draws in range(remaining + 1):
        grown = list(sizes) if lead is not None else [draws] if draws else []
        if lead is not None:
            grown[lead] += draws
        if vote_decided(grown, remaining - draws):
            return draws
    return remaining


def wave_size(
    answers: Sequence[str | None],
    same: Callable[[str, str], bool],
    rule: str,
    m: int,
    total: int,
) -> int:
    """How many samples a settling self-consistency draws next, with ``answers``
    drawn of ``total``: ``m`` at a time (all that are left once the first ``m``
    disagree under ``"agree"``), the fewest that could decide the vote under
    ``"decided"``, and under ``"confident"`` one first, then as ``"decided"``."""
    remaining = total - len(answers)
    if rule == "confident" and not answers:
        return 1  # a confident first sample settles alone
    if rule in VOTE_RULES:
        return max(1, draws_to_decide(class_sizes(answers, same), remaining))
    found = sum(1 for a in answers if a is not None)
    hopeless = rule == "agree" and found >= m
    return remaining if hopeless else min(m, remaining)


def settled(
    answers: Sequence[str | None],
    same: Callable[[str, str], bool],
    rule: str,
    m: int,
    confidence: float = 0.95,
    remaining: int | None = None,
    first_probability: float | None = None,
    trusted_probability: float | None = None,
) -> bool:
    """Whether ``answers`` (in discovery order) have settled under ``rule``;
    ``remaining``, the answers still to come, is needed by ``"decided"`` and
    ``"confident"``, and the latter trusts the first answer alone when its sample's
    token probability (``first_probability``, None if unknown) is at least
    ``trusted_probability`` (None: never)."""
    if rule == "off":
        return False
    if rule in VOTE_RULES:
        if remaining is None:
            raise ValueError(f"settle {rule!r} needs the number of answers still to come")
        confident = (
            rule == "confident"
            and bool(answers)
            and answers[0] is not None
            and first_probability is not None
            and trusted_probability is not None
            and first_probability >= trusted_probability
        )
        return confident or vote_decided(class_sizes(answers, same), remaining)
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
    raise ValueError(f"unknown settle rule {rule!r}; use off, agree, beta, decided or confident")
