"""Selection rules on hand-made samples: (answers, scores) in, (answer, votes) out, exactly."""

from __future__ import annotations

import pytest

from thinktree.search.selection import SELECTIONS, best, best_scored, majority, weighted


def same(a: str, b: str) -> bool:
    """Equivalence as the grader sees it here: 6 and 6.0 are one answer."""
    return float(a) == float(b)


# Five samples: 6 twice (once as 6.0), 7 once (the best score), 8 twice, one cut off.
ANSWERS = ["6", "7", "6.0", None, "8", "8"]
SCORES = [0.2, 0.8, 0.4, None, -0.4, -0.6]


@pytest.mark.parametrize(
    ("rule", "answer", "votes"),
    [
        # Two votes for 6 and for 8: the tie goes to the class found first.
        (majority, "6", {"6": 2.0, "7": 1.0, "8": 2.0}),
        # (0.2 + 1)/2 + (0.4 + 1)/2 = 1.3 beats 7's 0.9 and 8's 0.3 + 0.2.
        (weighted, "6", {"6": 1.3, "7": 0.9, "8": 0.5}),
        # The single best score; answers as written, each with its best score.
        (best, "7", {"6": 0.2, "7": 0.8, "6.0": 0.4, "8": -0.4}),
    ],
)
def test_each_rule_on_the_same_samples(rule, answer: str, votes: dict[str, float]) -> None:
    assert rule(ANSWERS, SCORES, same) == (answer, votes)


def test_weighted_shifts_scores_so_agreement_never_counts_against_an_answer() -> None:
    # Summed raw, 8 would weigh -1.0 and lose to 7's -0.6; shifted, 8's two samples
    # weigh 0.25 + 0.25 = 0.5 against 0.2.
    assert weighted(["8", "7", "8"], [-0.5, -0.6, -0.5], same) == ("8", {"8": 0.5, "7": 0.2})
    # Equal scores: the majority vote.
    assert weighted(["7", "8", "8"], [0.0, 0.0, 0.0], same)[0] == "8"


def test_ties_go_to_the_first_found() -> None:
    assert weighted(["7", "8"], [0.0, 0.0], same) == ("7", {"7": 0.5, "8": 0.5})
    assert best(["7", "8", "9"], [0.3, 0.5, 0.5], same) == ("8", {"7": 0.3, "8": 0.5, "9": 0.5})
    assert best_scored([("7", 0.5), ("8", 0.5)]) == ("7", {"7": 0.5, "8": 0.5})


def test_samples_without_an_answer_or_a_score_cast_nothing() -> None:
    # The unscored 8 is not weighed; under majority it still votes (scores unread).
    assert weighted(["7", "8", "8"], [0.0, None, 0.0], same) == ("7", {"7": 0.5, "8": 0.5})
    assert best(["7", "8"], [0.1, None], same) == ("7", {"7": 0.1})
    assert majority(["7", "8", "8"], [0.0, None, 0.0], same)[0] == "8"
    for rule in SELECTIONS.values():
        assert rule([None, None], [None, None], same) == (None, {})
