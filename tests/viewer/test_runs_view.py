"""Run summaries, the problem filters and sorts, and samples side by side."""

from __future__ import annotations

import pytest

from tests.viewer.conftest import HOSTILE_PROBLEM, LIVE_RUN, REAL_RUN, SC_RUN, sc_rows
from thinktree.store import RunStore
from thinktree.viewer.problem import best_index, sample_views
from thinktree.viewer.runs import select_problems, summarize_run, verdict_counts


def ids(rows) -> list[str]:
    return [r.problem_id for r in rows]


@pytest.mark.parametrize(
    ("show", "sort", "expected"),
    [
        ("all", "position", ["p-right", "p-wrong", HOSTILE_PROBLEM]),
        ("all", "tokens", ["p-wrong", "p-right", HOSTILE_PROBLEM]),
        ("all", "time", [HOSTILE_PROBLEM, "p-right", "p-wrong"]),
        ("right", "position", ["p-right"]),
        ("wrong", "position", ["p-wrong"]),
        ("unanswered", "tokens", [HOSTILE_PROBLEM]),
    ],
)
def test_problems_are_filtered_and_sorted(show, sort, expected) -> None:
    assert ids(select_problems(sc_rows(), show, sort)) == expected


@pytest.mark.parametrize(
    ("show", "sort", "message"),
    [
        ("maybe", "position", "unknown filter 'maybe'; use one of all, right, wrong, unanswered"),
        ("all", "size", "unknown sort 'size'; use one of position, tokens, time"),
    ],
)
def test_an_unknown_filter_or_sort_is_refused_naming_the_choices(show, sort, message) -> None:
    with pytest.raises(ValueError) as caught:
        select_problems(sc_rows(), show, sort)
    assert str(caught.value) == message


def test_verdicts_are_counted_per_filter() -> None:
    assert verdict_counts(sc_rows()) == {"all": 3, "right": 1, "wrong": 1, "unanswered": 1}


def test_a_finished_run_is_summarised_by_its_stored_metrics(store_path) -> None:
    with RunStore(store_path) as store:
        s = summarize_run(store, store.get_run(REAL_RUN))
    assert (s.n, s.graded, s.correct, s.accuracy) == (2, 2, 2, 1.0)
    assert s.ci95 == pytest.approx((0.34237195288961925, 1.0))
    assert (s.tokens_per_problem, s.seconds) == (839.0, pytest.approx(142.02082991799944))
    assert (s.label, s.live) == ("mcts@4", False)


def test_a_running_run_is_summarised_from_its_results(store_path) -> None:
    with RunStore(store_path) as store:
        run = store.get_run(LIVE_RUN)
        assert run.metrics == {}
        s = summarize_run(store, run)
    assert (s.n, s.graded, s.correct, s.accuracy, s.tokens_per_problem) == (1, 1, 1, 1.0, 20.0)
    assert (s.label, s.live) == ("greedy", True)


def test_samples_side_by_side_mark_the_chosen_one_and_their_verdicts(store_path) -> None:
    with RunStore(store_path) as store:
        row = store.results(SC_RUN)[0]
    views = sample_views(row)
    assert [(v.index, v.answer, v.correct, v.chosen, v.tokens) for v in views] == [
        (0, "5", True, True, 14),
        (1, "5", True, False, 14),
        (2, "7", False, False, 14),
    ]
    assert best_index(row) == 0


def test_without_gold_samples_have_no_verdict_and_no_answer_falls_back_to_the_first() -> None:
    row = sc_rows()[2]
    assert best_index(row) == 0
    assert [v.correct for v in sample_views(row)] == [False, False]
    row.gold = None
    assert [v.correct for v in sample_views(row)] == [None, None]
    row.trajectories = []
    assert (best_index(row), sample_views(row)) == (None, [])
