from __future__ import annotations

import math

import pytest

from thinktree.eval.metrics import (
    majority_correct,
    pairwise,
    pass_at_k,
    sample_ks,
    sign_test,
    summarize,
    vote_correct,
    wilson_interval,
)
from thinktree.store import ResultRow


def row(pid: str, correct: bool | None, tokens: int = 10, samples: dict | None = None) -> ResultRow:
    return ResultRow(
        pid, 0, "q", "1", "1", correct, tokens, 100, 300, 2.0, "done", samples=samples or {}
    )


def test_wilson_interval_known_values() -> None:
    lo, hi = wilson_interval(25, 50)
    assert (round(lo, 4), round(hi, 4)) == (0.3664, 0.6336)
    assert wilson_interval(0, 0) == (0.0, 0.0)
    lo, hi = wilson_interval(50, 50)
    assert hi == 1.0 and round(lo, 4) == 0.9286


def test_pass_at_k_unbiased_estimator() -> None:
    assert pass_at_k(4, 0, 1) == 0.0
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 1, 2) == pytest.approx(1 - math.comb(3, 2) / math.comb(4, 2))
    assert pass_at_k(4, 3, 2) == 1.0
    with pytest.raises(ValueError, match="needs at least 5 samples"):
        pass_at_k(4, 1, 5)


def test_majority_at_k_uses_first_k_and_ties_to_first_class() -> None:
    classes = [1, 0, 0, 1, 1]
    correct = {"0": False, "1": True}
    assert majority_correct(classes, correct, 1) is True
    assert majority_correct(classes, correct, 3) is False
    assert majority_correct(classes, correct, 2) is False  # tie 1:1 -> lower class id (found first)
    assert majority_correct(classes, correct, 5) is True
    assert majority_correct([None, None], correct, 2) is False
    assert sample_ks(8) == [1, 2, 4, 8] and sample_ks(6) == [1, 2, 4, 6]


def test_vote_correct_reads_the_top_answers_class_and_ties_to_the_first() -> None:
    samples = {
        "answers": ["8", "10", "10.0", "18"],
        "classes": [0, 1, 1, 2],
        "class_correct": {"0": False, "1": False, "2": True},
    }
    assert vote_correct({"8": 2.5, "18": 0.5}, samples) is False
    assert vote_correct({"8": 0.5, "18": 2.5}, samples) is True
    assert vote_correct({"18": 1.0, "8": 1.0}, samples) is True  # tie: first listed wins
    assert vote_correct({"8": 1.0, "18": 1.0}, samples) is False
    assert vote_correct({"10.0": 3.0, "18": 1.0}, samples) is False
    assert vote_correct({}, samples) is False
    assert vote_correct({"99": 1.0}, samples) is False  # an answer no sample holds


def test_summarize_accuracy_tokens_cache_and_samples() -> None:
    s4 = {
        "answers": ["1", "2", "1", "1"],
        "classes": [0, 1, 0, 0],
        "class_correct": {"0": True, "1": False},
        "correct": [True, False, True, True],
    }
    rows = [row("a", True, 10, s4), row("b", False, 30, s4), row("c", None, 20)]
    s = summarize(rows)
    assert (s["n"], s["graded"], s["correct"]) == (3, 2, 1)
    assert s["accuracy"] == 0.5
    assert s["tokens_per_problem"] == 20.0
    assert s["cached_share"] == 0.75
    assert s["pass@1"] == pytest.approx(0.75) and s["pass@4"] == 1.0
    assert s["maj@4"] == 1.0
    assert s["seconds_per_problem"] == s["latency_seconds_per_problem"] == 2.0
    timed = summarize(rows, wall_seconds=3.0)
    assert (timed["seconds_per_problem"], timed["latency_seconds_per_problem"]) == (1.0, 2.0)
    assert (s["seconds"], timed["seconds"]) == (6.0, 3.0)


def test_pairwise_counts_and_sign_test() -> None:
    a = [row("1", True), row("2", True), row("3", False), row("4", False), row("5", True)]
    b = [row("1", True), row("2", False), row("3", True), row("4", False)]
    assert pairwise(a, b) == {
        "common": 4,
        "both": 1,
        "won": 1,
        "lost": 1,
        "neither": 1,
        "sign_test_p": 1.0,
    }
    assert sign_test(0, 6) == pytest.approx(2 / 64)
