"""Grouping answers into equivalence classes for majority voting."""

from __future__ import annotations

import time

import pytest

from thinktree.grading import Grader, answers_equivalent, group_answers


@pytest.fixture(scope="module")
def g():
    with Grader(workers=1, timeout=10.0) as grader:
        yield grader


def test_gsm8k_numbers_group_without_a_worker() -> None:
    with Grader(workers=1) as fresh:
        answers = ["18", "1,000", "18.0", None, "1000", "\\$18", "17", "", "18 dollars"]
        assert group_answers(answers, grader=fresh) == [0, 1, 0, -1, 1, 0, 2, -1, 0]
        assert fresh.worker_pids == []


def test_grouping_is_fast_for_numbers() -> None:
    answers = [str(i % 7) for i in range(64)] * 20
    start = time.monotonic()
    with Grader(workers=1) as fresh:
        ids = group_answers(answers, grader=fresh)
    assert time.monotonic() - start < 0.5
    assert ids[:8] == [0, 1, 2, 3, 4, 5, 6, 0]


def test_latex_answers_group_by_value(g: Grader) -> None:
    answers = [
        "\\frac{1}{2}",
        "0.5",
        "\\dfrac{1}{2}",
        "\\frac{\\sqrt{2}}{2}",
        "\\frac{1}{\\sqrt{2}}",
        "2",
    ]
    assert group_answers(answers, grader=g) == [0, 0, 0, 1, 1, 2]


def test_text_and_choice_answers(g: Grader) -> None:
    assert group_answers(["\\text{(C)}", "C", "(B)", "\\text{east}", "East"], grader=g) == [
        0,
        0,
        1,
        2,
        2,
    ]


def test_answers_equivalent(g: Grader) -> None:
    assert answers_equivalent("1,000", "1000", grader=g)
    assert answers_equivalent("x=3", "3", grader=g)
    assert not answers_equivalent("\\frac{1}{2004!}", "\\frac{1}{2006!}", grader=g)
    assert not answers_equivalent(None, "3", grader=g)
