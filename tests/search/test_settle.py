"""Adaptive stopping: the pure settle rules, and self-consistency drawn in waves."""

from __future__ import annotations

import math

import pytest

from tests.conftest import answer
from tests.search.helpers import solve_scripted
from thinktree.problems import Problem
from thinktree.search import SearchConfig
from thinktree.search.registry import resolved
from thinktree.search.settle import (
    class_sizes,
    draws_to_decide,
    leader_confidence,
    settled,
    token_probability,
    vote_decided,
    wave_size,
)
from thinktree.search.voting import leading
from thinktree.steps import Step, StepKind

PROBLEM = Problem(id="p1", question="What is 3 * 2?", answer="6")
same = lambda a, b: a.strip() == b.strip()  # noqa: E731


def test_leader_confidence_exact_values() -> None:
    assert leader_confidence(3, 0) == 15 / 16
    assert leader_confidence(4, 0) == 31 / 32
    assert leader_confidence(4, 1) == 57 / 64
    assert leader_confidence(1, 1) == 0.5


@pytest.mark.parametrize(
    ("answers", "rule", "m", "expected"),
    [
        (["6", " 6", "6"], "agree", 3, True),
        (["6", None, "6"], "agree", 3, False),  # None does not count: 2 answers found
        (["6", None, "6", "6"], "agree", 3, True),
        (["6", "7", "6", "6", "6"], "agree", 3, False),  # the first 3 disagree: never
        (["6", "6", "6"], "off", 3, False),
        (["6", "6", "6"], "beta", 3, False),  # 0.9375 < 0.95
        (["6", "6", "6", "6"], "beta", 3, True),  # 0.96875
        (["6", "7", "6", "6", "6", "6"], "beta", 3, False),  # 5 vs 1: 120/128 = 0.9375
        (["6", "7", "6", "6", "6", "6", "6"], "beta", 3, True),  # 6 vs 1: 247/256 = 0.9648
        (["6", "6"], "beta", 3, False),  # fewer than m answers
    ],
)
def test_settle_rules(answers, rule, m, expected) -> None:
    assert settled(answers, same, rule, m, 0.95) is expected


def test_unknown_settle_rule_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown settle rule 'vibes'"):
        settled(["6", "6"], same, "vibes", 2)


def test_class_sizes_in_the_order_found() -> None:
    assert class_sizes(["7", None, "8", " 7", "9", "8", "8"], same) == [2, 3, 1]
    assert class_sizes([None, None], same) == []


@pytest.mark.parametrize(
    ("sizes", "remaining", "expected"),
    [
        ([], 0, True),
        ([], 1, False),
        ([2], 2, True),  # 2 new answers can only tie the leader, found first
        ([2], 3, False),  # 3 new answers of one kind would outvote it
        ([1, 1], 2, False),
        ([2, 1], 1, True),  # the runner-up, found later, can only tie
        ([1, 2], 1, False),  # the runner-up found first wins a tie
        ([1, 2], 0, True),
        ([3, 1, 1], 2, True),
        ([3, 2], 2, False),
    ],
)
def test_vote_decided(sizes, remaining, expected) -> None:
    assert vote_decided(sizes, remaining) is expected


@pytest.mark.parametrize(
    ("sizes", "remaining", "draws"),
    [
        ([], 4, 2),
        ([], 8, 4),
        ([], 5, 3),
        ([1, 1], 2, 1),  # A, B: one more A decides (A 2, B 1, one left)
        ([1, 2], 1, 1),
        ([2], 2, 0),
        ([1], 0, 0),
    ],
)
def test_draws_to_decide(sizes, remaining, draws) -> None:
    assert draws_to_decide(sizes, remaining) == draws


def test_decided_needs_the_answers_still_to_come() -> None:
    assert settled(["6", "6"], same, "decided", 2, remaining=2) is True
    assert settled(["6", "7"], same, "decided", 2, remaining=2) is False
    with pytest.raises(ValueError, match="number of answers still to come"):
        settled(["6", "6"], same, "decided", 2)


def queued(answers: list[str]):
    """Each new sample's (only) step answers the next of ``answers``, in call order."""
    queue = list(answers)
    return lambda request, index: answer(queue.pop(0))


@pytest.mark.parametrize(
    ("answers", "settle", "wave_sizes", "reason", "chosen"),
    [
        (["7", "7", "7"], {"settle": "agree"}, [3], "settled", "7"),
        # the first 3 disagree: nothing can settle, the other 5 start at once
        (["7", "8", "7", "8", "8", "8", "9", "9"], {"settle": "agree"}, [3, 5], "done", "8"),
        # waves of 2: 2 agree give 0.875 < 0.9, 4 agree 0.969
        (["7", "7", "7", "7"], {"settle": "beta", "settle_m": 2, "settle_confidence": 0.9},
         [2, 2], "settled", "7"),
        (["7"] * 8, {}, [8], "done", "7"),  # settle off: one call of n = 8, as before
        # decided: 4 agreeing of 8 cannot be outvoted (a tie goes to the first found)
        (["7", "7", "7", "7"], {"settle": "decided"}, [4], "settled", "7"),
        # 7 7 8 8: 7 needs 2 more to hold off 8 (7: 4, 8: 2, 2 left); 7 8 leaves 3 and
        # 3 with 2 to come, 9 leaves one that could still make 8 win: the full vote
        (["7", "7", "8", "8", "7", "8", "9", "8"], {"settle": "decided"}, [4, 2, 1, 1],
         "done", "8"),
        # 7 7 7 8: a new answer found 4 times would win; one 8 more leaves 3 against 2
        # with 3 to come; one 7 more decides it (4 against 2, 2 to come)
        (["7", "7", "7", "8", "8", "7"], {"settle": "decided"}, [4, 1, 1], "settled", "7"),
    ],
)  # fmt: skip
def test_self_consistency_settles_in_waves(
    sandbox, grader, answers, settle, wave_sizes, reason, chosen
) -> None:
    (result,), engine = solve_scripted(
        queued(answers), sandbox, grader, [PROBLEM], strategy="sc", samples=8, **settle
    )
    assert [r.n for batch in engine.calls for r in batch] == wave_sizes
    assert result.stop_reason == reason
    assert result.answer == chosen
    assert result.sample_answers == answers
    assert result.extra == ({"samples": len(answers)} if settle else {})


def test_token_probability_weighs_steps_by_their_tokens() -> None:
    steps = [
        Step(text="a", kind=StepKind.CODE, tokens=2, mean_logprob=-0.1),
        Step(text="b", kind=StepKind.FINAL, tokens=6, mean_logprob=-0.5),
        Step(text="c", kind=StepKind.INVALID, tokens=0, mean_logprob=None),
    ]
    assert token_probability(steps) == pytest.approx(math.exp(-0.4))  # (-0.2 - 3) / 8
    assert token_probability([Step(text="x", kind=StepKind.FINAL, tokens=3)]) is None
    assert token_probability([]) is None


@pytest.mark.parametrize(
    ("answers", "remaining", "first_probability", "expected"),
    [
        (["6"], 3, 0.9, True),  # a confident first sample settles alone
        (["6"], 3, 0.88, True),  # at the threshold
        (["6"], 3, 0.87, False),
        (["6"], 3, None, False),  # no log-probabilities: never alone
        (["6", "6"], 2, None, True),
        ([None], 3, 0.99, False),  # a confident sample with no answer settles nothing
        (["6", "6"], 2, 0.5, True),  # not confident, but the vote is decided
        (["6", "7"], 2, 0.99, True),  # only the first sample's confidence counts
        (["7", "6"], 2, 0.5, False),
    ],
)
def test_confident_settles_on_a_confident_first_sample_or_a_decided_vote(
    answers, remaining, first_probability, expected
) -> None:
    got = settled(answers, same, "confident", 2, 0.95, remaining, first_probability, 0.88)
    assert got is expected
    # with no threshold given, a first sample is never trusted alone
    assert settled(["6"], same, "confident", 2, remaining=3, first_probability=0.99) is False
    with pytest.raises(ValueError, match="'confident' needs the number of answers still"):
        settled(answers, same, "confident", 2, first_probability=0.9, trusted_probability=0.8)


@pytest.mark.parametrize(
    ("answers", "logprobs", "wave_sizes", "reason", "chosen"),
    [
        # exp(-0.1) = 0.905 >= 0.87 (the default): the first sample alone
        (["7"], [-0.1], [1], "settled", "7"),
        # exp(-0.5) = 0.61: then waves as under decided, one at a time here: 7 7 of 4
        # cannot be outvoted; the second sample's confidence is not read
        (["7", "7"], [-0.5, -0.01], [1, 1], "settled", "7"),
        # 8 7 8 leaves 8 ahead with one to come (a tie would go to 8, found first);
        # after 7 8 9 the last sample decides
        (["8", "7", "8"], [-0.5, -0.1, -0.1], [1, 1, 1], "settled", "8"),
        (["7", "8", "9", "8"], [-0.5] * 4, [1, 1, 1, 1], "done", "8"),
    ],
)
def test_confident_sc_draws_one_sample_first(
    sandbox, grader, answers, logprobs, wave_sizes, reason, chosen
) -> None:
    queue = list(logprobs)
    (result,), engine = solve_scripted(
        queued(answers), sandbox, grader, [PROBLEM], strategy="sc", samples=4,
        settle="confident", logprob=lambda request, index: queue.pop(0),
    )  # fmt: skip
    assert [r.n for batch in engine.calls for r in batch] == wave_sizes
    assert (result.stop_reason, result.answer) == (reason, chosen)
    assert result.sample_answers == answers
    assert result.extra == {"samples": len(answers)}
    assert not queue


def test_confident_needs_log_probabilities() -> None:
    with pytest.raises(ValueError, match="drop --no-logprobs"):
        resolved(SearchConfig(strategy="sc", settle="confident", logprobs=False), scored=False)
    with pytest.raises(ValueError, match="drop --no-logprobs"):
        resolved(SearchConfig(strategy="mcts", settle="confident", logprobs=False), scored=False)


@pytest.mark.parametrize(
    ("answers", "rule", "expected"),
    [
        ([], "agree", 2),
        (["6", "7"], "agree", 6),  # the first 2 disagree: all that are left
        (["6", "6", "7", "8"], "beta", 2),
        ([], "decided", 4),  # 4 of 8 agreeing cannot be outvoted
        (["6"], "decided", 3),
        ([], "confident", 1),
        ([None], "confident", 4),  # as decided, over no answers yet
        (["6", "7", "6", "6", "6", "6", "6"], "decided", 1),
    ],
)
def test_wave_size(answers, rule, expected) -> None:
    assert wave_size(answers, same, rule, 2, 8) == expected


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ([], None),
        ([2.0], 0),
        ([1.0, 3.0, 3.0], 1),  # a tie goes to the class found first
        ([2.0, 2.0], 0),
        ([0.5, 0.25, 0.75], 2),
    ],
)
def test_the_one_tie_rule(weights: list[float], expected: int | None) -> None:
    """Every vote (majority, settling, MCTS's answer, maj@k) picks with ``leading``."""
    assert leading(weights) == expected
