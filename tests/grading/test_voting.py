"""Grouping answers into equivalence classes for majority voting."""

from __future__ import annotations

import pytest

from thinktree.eval.harness import sample_record
from thinktree.grading import Grader, answers_equivalent, group_answers
from thinktree.grading.compare import fast_compare
from thinktree.grading.voting import answer_classes
from thinktree.search.mcts.tree import Node
from thinktree.search.mcts.tree import group_answers as group_nodes
from thinktree.search.voting import majority_vote
from thinktree.steps import Step, StepKind


@pytest.fixture(scope="module")
def g():
    with Grader(workers=1, timeout=10.0) as grader:
        yield grader


def test_gsm8k_numbers_group_without_a_worker() -> None:
    with Grader(workers=1) as fresh:
        answers = ["18", "1,000", "18.0", None, "1000", "\\$18", "17", "", "18 dollars"]
        assert group_answers(answers, grader=fresh) == [0, 1, 0, -1, 1, 0, 2, -1, 0]
        assert fresh.worker_pids == []


def test_grouping_is_fast_for_numbers(monkeypatch) -> None:
    """Fast by construction, counted rather than timed: an answer seen before costs no
    comparison, and a new number is compared once with each class, in process."""
    import thinktree.grading.voting as voting

    compared: list[tuple[str, str]] = []

    def counting(pred: str, gold: str) -> bool | None:
        compared.append((pred, gold))
        return fast_compare(pred, gold)

    monkeypatch.setattr(voting, "fast_compare", counting)
    answers = [str(i % 7) for i in range(64)] * 20
    with Grader(workers=1) as fresh:
        ids = group_answers(answers, grader=fresh)
        assert fresh.worker_pids == []
    assert ids[:8] == [0, 1, 2, 3, 4, 5, 6, 0]
    assert len(compared) == 0 + 1 + 2 + 3 + 4 + 5 + 6  # 7 classes, each new one once


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


@pytest.mark.parametrize(
    ("answers", "ids"),
    [
        (["12", "1", None, "13", "2"], [0, 0, -1, 1, 2]),
        (["1", "12", "13", "1"], [0, 1, 2, 0]),
        (["", "", None], [0, 0, -1]),
    ],
)
def test_one_grouping_rule_puts_the_representative_on_the_pred_side(answers, ids) -> None:
    """``same(pred, gold)`` here is asymmetric: a pred extends its gold. "12" founds a
    class that "1" joins (same("12", "1")), but "12" does not join "1"'s class."""
    calls: list[tuple[str, str]] = []

    def same(pred: str, gold: str) -> bool:
        calls.append((pred, gold))
        return pred.startswith(gold)

    assert answer_classes(answers, same) == ids
    assert all(answers.index(pred) < answers.index(gold) for pred, gold in calls if pred != gold)


def test_every_vote_groups_by_the_one_rule() -> None:
    def same(pred: str, gold: str) -> bool:
        return pred.startswith(gold)

    answers = ["12", "1", "2", "1"]
    assert majority_vote(answers, same) == ("12", {"12": 3.0, "2": 1.0})
    nodes = []
    for i, a in enumerate(answers):
        node = Node(i + 1, step=Step(text="", kind=StepKind.FINAL, answer=a))
        node.terminal_reason = "answer"
        nodes.append(node)
    assert [[n.answer for n in g] for g in group_nodes(nodes, same)] == [["12", "1", "1"], ["2"]]

    class Judge:
        def same(self, a: str, b: str) -> bool:
            return same(a, b)

        def correct(self, answer: str, gold: str) -> bool:
            return answer == gold

    record = sample_record([*answers, None], "2", Judge())
    assert record["classes"] == [0, 0, 1, 0, None]
    assert record["class_correct"] == {"0": False, "1": True}
