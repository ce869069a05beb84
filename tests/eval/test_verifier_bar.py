"""The verifier bar (``analyses: [verifier_bar]``): stored sc samples replayed under the
policy's mean log-probability and under simulated scorers of known pairwise accuracy."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest

from thinktree.eval.bench.analyses.verifier_bar import (
    Problem,
    lowest_reaching,
    mean_logprob_entry,
    model_bar,
    problem_of,
    simulated_scores,
    verifier_bar,
)
from thinktree.eval.bench.context import ArmReport, ReportContext
from thinktree.eval.bench.recipe import ReportSpec
from thinktree.eval.metrics import summarize
from thinktree.store import ResultRow, RunRecord, RunStore

T, F = True, False


def trajectory(*steps: tuple[int, float]) -> dict[str, Any]:
    return {"steps": [{"text": "s", "kind": "code", "tokens": n, "mean_logprob": lp}
                      for n, lp in steps]}  # fmt: skip


def sc_row(
    problem_id: str, samples: dict[str, Any], trajectories: list[dict[str, Any]]
) -> ResultRow:
    return ResultRow(problem_id, 0, "q", "4", "4", True, 100, 5, 0, 1.0, "done",
                     samples=samples, trajectories=trajectories)  # fmt: skip


def test_a_stored_row_gives_its_first_samples_classes_grades_and_token_probability() -> None:
    samples = {"answers": [None, "4", "4.0", "2.8", "5"], "classes": [None, 0, 0, 1, 2],
               "class_correct": {"0": True, "1": False, "2": False}}  # fmt: skip
    trajectories = [trajectory((2, -0.5), (2, -1.5)), trajectory((1, 0.0)),
                    trajectory((3, -0.2), (1, -1.0)), {"steps": []}, trajectory((1, -9.0))]  # fmt: skip
    problem = problem_of(sc_row("p", samples, trajectories), 4)
    assert problem.classes == (None, "0", "0", "1")
    assert problem.right == (F, T, T, F)
    assert problem.probability[:3] == pytest.approx((math.exp(-1.0), 1.0, math.exp(-0.4)))
    assert problem.probability[3] is None


def test_a_row_of_no_sc_run_is_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match=r"p7: the row has no graded sample classes; .*sc runs"):
        problem_of(sc_row("p7", {}, []), 4)


def test_the_mean_log_probability_is_scored_on_right_wrong_pairs_and_by_both_rules() -> None:
    problems = [
        # The vote is right (a, a); pairs (0, 2) ordered, (1, 2) tied; the unanswered
        # sample's 0.99 neither pairs nor picks.
        Problem(("a", "a", "b", None), (T, T, F, F), (0.9, 0.7, 0.7, 0.99)),
        # The vote is wrong (y, y); the one right sample is the most probable: both rules win.
        Problem(("x", "y", "y", "z"), (T, F, F, F), (0.9, 0.3, 0.3, 0.2)),
        # The vote is right (n, n, n); the wrong sample is the most probable: both rules lose.
        Problem(("m", "n", "n", "n"), (F, T, T, T), (0.95, 0.1, 0.1, 0.1)),
    ]
    even = {"common": 3, "both": 1, "won": 1, "lost": 1, "neither": 0, "sign_test_p": 1.0}
    assert mean_logprob_entry(problems, [T, F, T]) == {
        "pairs": 8, "pairwise_accuracy": 4.5 / 8,
        "weighted": 2 / 3, "weighted_vs_majority": even,
        "best": 2 / 3, "best_vs_majority": even,
    }  # fmt: skip


def test_simulated_scores_order_a_right_and_a_wrong_sample_at_the_asked_accuracy() -> None:
    rng = random.Random(3)
    for accuracy, spread in ((0.6, 1.0), (0.8, 1.0), (0.95, 1.0), (0.8, 4.0)):
        draws = [simulated_scores([T, F], accuracy, rng, spread) for _ in range(20000)]
        assert all(-1.0 < s < 1.0 for pair in draws for s in pair)
        ordered = sum(right > wrong for right, wrong in draws) / len(draws)
        assert ordered == pytest.approx(accuracy, abs=0.01)


def test_a_problem_no_scorer_can_change_keeps_every_rule_at_the_vote() -> None:
    problems = [
        Problem(("a", "a", "a", "a"), (T, T, T, T), (0.5, 0.5, 0.5, 0.5)),
        Problem(("b", "c", "b", None), (F, F, F, F), (0.5, 0.6, 0.7, None)),
    ]
    bar = model_bar(problems, [0.6, 0.9], 20, 0.05, random.Random(0))
    assert bar["n"] == 2 and bar["pass_at_k"] == 0.5 and bar["majority"] == 0.5
    assert bar["simulated"] == [
        {"pairwise_accuracy": 0.6, "weighted": 0.5, "best": 0.5},
        {"pairwise_accuracy": 0.9, "weighted": 0.5, "best": 0.5},
    ]
    assert bar["needed"] == {"weighted": None, "best": None}
    assert bar["mean_logprob"]["pairs"] == 0 and bar["mean_logprob"]["pairwise_accuracy"] is None


def test_the_needed_accuracy_is_the_lowest_whose_rule_reaches_the_bar() -> None:
    simulated = [
        {"pairwise_accuracy": 0.6, "weighted": 0.70, "best": 0.65},
        {"pairwise_accuracy": 0.7, "weighted": 0.74, "best": 0.72},
        {"pairwise_accuracy": 0.8, "weighted": 0.76, "best": 0.75},
    ]
    assert lowest_reaching(simulated, "weighted", 0.73) == 0.7
    assert lowest_reaching(simulated, "best", 0.73) == 0.8
    assert lowest_reaching(simulated, "best", 0.9) is None


def context(tmp_path: Path, options: dict[str, Any], reports: list[ArmReport]) -> ReportContext:
    spec = ReportSpec(results="bar.json", analyses=["verifier_bar"], options=options)
    return ReportContext(RunStore(tmp_path / "runs.db"), spec, reports, [], tmp_path)


def sc_arm(model: str, run_id: str, rows: list[ResultRow], arm: str = "sc@8") -> ArmReport:
    run = RunRecord(run_id, "fp", "eval", 0.0, 0.0, "complete", "gsm8k:train", "sc", model,
                    {"search": {"strategy": "sc", "samples": 8}}, {}, {})  # fmt: skip
    return ArmReport(run, rows, summarize(rows, None), arm, [0])


def test_the_report_pools_each_models_runs_and_reads_the_first_samples(tmp_path: Path) -> None:
    # Eight samples stored; the first four decide (three wrong 5s against one right 4).
    samples = {"classes": [0, 1, 1, 1, 0, 0, 0, 0], "class_correct": {"0": True, "1": False}}
    rows = [sc_row(f"p{i}", samples, [trajectory((1, -0.1))] * 8) for i in range(2)]
    reports = [sc_arm("m", "r1", rows[:1]), sc_arm("m", "r2", rows[1:])]
    doc = verifier_bar(context(tmp_path, {"accuracies": [0.6], "draws": 5}, reports))
    assert (doc["samples"], doc["draws"], doc["margin"], doc["spread"]) == (4, 5, 0.05, 1.0)
    entry = doc["models"]["m"]
    assert entry["runs"] == ["r1", "r2"]
    assert (entry["n"], entry["pass_at_k"], entry["majority"]) == (2, 1.0, 0.0)


def test_an_accuracy_outside_the_grid_range_or_a_spread_below_zero_is_refused(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValueError, match=r"options.accuracies: each must be in \[0.5, 1\)"):
        verifier_bar(context(tmp_path, {"accuracies": [0.4]}, []))
    with pytest.raises(ValueError, match=r"options.spread: must be above 0"):
        verifier_bar(context(tmp_path, {"spread": 0}, []))


def test_the_arms_option_keeps_only_the_named_runs(tmp_path: Path) -> None:
    # All eight samples read: the 4s (right) outvote the 5s.
    samples = {"classes": [0, 1, 1, 1, 0, 0, 0, 0], "class_correct": {"0": True, "1": False}}
    rows = [sc_row(f"p{i}", samples, [trajectory((1, -0.1))] * 8) for i in range(2)]
    reports = [sc_arm("m", "r8", rows[:1]), sc_arm("m", "r4", rows[1:], arm="sc@4")]
    options = {"samples": 8, "arms": ["sc@8"], "accuracies": [0.6], "draws": 5}
    entry = verifier_bar(context(tmp_path, options, reports))["models"]["m"]
    assert entry["runs"] == ["r8"]
    assert (entry["n"], entry["pass_at_k"], entry["majority"]) == (1, 1.0, 1.0)
