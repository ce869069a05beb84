"""Compute-matched comparison: dominance between runs, on hand-made rows."""

from __future__ import annotations

import pytest

from thinktree.eval.metrics import dominance
from thinktree.eval.report import RunReport, dominance_lines
from thinktree.store import ResultRow, RunRecord


def rows(verdicts: str, tokens: int) -> list[ResultRow]:
    """One row per character: 1 right, 0 wrong, - ungraded."""
    return [
        ResultRow(f"p{i}", i, "q", "1", "1", None if v == "-" else v == "1", tokens, 0, 0, 1, "")
        for i, v in enumerate(verdicts)
    ]


def report(run_id: str, strategy: str, verdicts: str, tokens: int) -> RunReport:
    run = RunRecord(run_id, "fp", "eval", 0.0, 0.0, "done", "toy", strategy, "m",
                    {"search": {"samples": 4}}, {})  # fmt: skip
    return RunReport(run, rows(verdicts, tokens), {})


@pytest.mark.parametrize(
    ("a", "b", "dominant", "significant"),
    [
        (("1111100000", 100), ("1111000000", 200), "a", False),  # better, cheaper
        (("1111000000", 100), ("1111000000", 200), "a", False),  # as good, cheaper
        (("1111000000", 200), ("1111000000", 200), None, False),  # a tie on both
        (("1111111111", 300), ("1000000000", 200), None, True),  # a trade-off
        (("0000000000", 300), ("1111111111", 200), "b", True),  # worse and dearer
        (("1111111100", 200), ("0000000000", 200), "a", True),  # better, same tokens
    ],
)
def test_dominance_rule(a, b, dominant, significant) -> None:
    d = dominance(rows(*a), rows(*b))
    assert d["dominant"] == dominant
    assert d["significant"] is significant


def test_dominance_uses_only_problems_both_graded() -> None:
    a = rows("11-1", 100)  # p2 ungraded in a: left out of both sides
    b = rows("1100", 50)
    a[3].generated_tokens = 1000
    d = dominance(a, b)
    assert d["common"] == 3
    assert (d["accuracy_a"], d["accuracy_b"]) == (1.0, pytest.approx(2 / 3))
    assert (d["tokens_a"], d["tokens_b"]) == (400.0, 50.0)
    assert (d["won"], d["lost"], d["dominant"]) == (1, 0, None)


def test_dominance_lines_say_who_dominates_each_pair() -> None:
    reports = [
        report("cheap", "sc", "1111100000", 100),
        report("dear", "mcts", "1111000000", 200),
        report("tie", "sc", "1111100000", 100),
    ]
    text = dominance_lines(reports)
    lines = text.splitlines()
    assert lines[0].startswith("Compute-matched, on the problems both graded")
    assert lines[2] == (
        "- cheap (m sc@4) dominates dear (m mcts@4): 50.0 % vs 40.0 % "
        "(won 1, lost 0, p = 1.000, within noise), 100 vs 200 tokens/problem."
    )
    assert lines[3] == (
        "- cheap (m sc@4) and tie (m sc@4) tie: 50.0 % vs 50.0 % "
        "(won 0, lost 0, p = 1.000, within noise), 100 vs 100 tokens/problem."
    )
    assert lines[4].startswith("- tie (m sc@4) dominates dear (m mcts@4): ")
    assert dominance_lines(reports[:1]) == ""
