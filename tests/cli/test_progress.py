"""Progress of a run's problems: plain lines in a log, a bar on a terminal."""

from __future__ import annotations

from io import StringIO

from rich.console import Console

from thinktree.cli.progress import Tally, log_line, result_progress
from thinktree.store import ResultRow


def row(correct: bool | None) -> ResultRow:
    return ResultRow("p", 0, "q", "g", "a", correct, 10, 5, 0, 1.0, "answer")


def test_a_log_line_counts_grades_and_times_what_is_left() -> None:
    tally = Tally()
    for correct in (True, False, None, True):
        tally.add(row(correct))
    assert log_line("base sc@4 seed 0", tally, 10, 240.0) == (
        "base sc@4 seed 0: 4/10  acc 66.7% (2/3)  4.0 min  ~6.0 min left"
    )
    assert log_line("x", Tally(), 3, 0.0) == "x: 0/3  0.0 min  ~0.0 min left"


def test_a_log_gets_a_line_a_result_with_the_pace_so_far() -> None:
    out = StringIO()
    console = Console(file=out, width=200)  # not a terminal: a file
    times = iter([0.0, 30.0, 90.0])
    with result_progress(console, "sc", 3, clock=lambda: next(times)) as on_result:
        on_result(row(True))
        on_result(row(False))
    assert out.getvalue().splitlines() == [
        "sc: 1/3  acc 100.0% (1/1)  0.5 min  ~1.0 min left",
        "sc: 2/3  acc 50.0% (1/2)  1.5 min  ~0.8 min left",
    ]


def test_a_terminal_gets_a_bar_and_no_log_lines() -> None:
    out = StringIO()
    console = Console(file=out, width=120, force_terminal=True)
    with result_progress(console, "sc", 2) as on_result:
        on_result(row(True))
        on_result(row(True))
    text = out.getvalue()
    assert "2/2" in text and "acc 100.0% (2/2)" in text
    assert "min left" not in text
