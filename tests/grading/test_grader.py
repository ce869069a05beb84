"""The grader's worker processes: deadlines, hostile input, crashes, ordering."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from thinktree.grading import Grader, GraderError, Verdict, is_equivalent

TIMEOUT = 2.0


@pytest.fixture(scope="module")
def g() -> Iterator[Grader]:
    with Grader(workers=2, timeout=TIMEOUT) as grader:
        grader.start()  # start-up time must not count against the timing tests
        yield grader


def timed_check(g: Grader, pred: str, gold: str) -> tuple[Verdict, float]:
    start = time.monotonic()
    verdict = g.check(pred, gold)
    return verdict, time.monotonic() - start


@pytest.mark.parametrize(
    "pred",
    [
        "\\boxed{9^{9^{9^{9}}}}",
        "\\boxed{(10^{10})!}",
        "\\boxed{100000000!}",
        "\\boxed{2^{2^{2^{2^{2^{2}}}}} + \\frac{1}{3}}",
    ],
    ids=["power-tower", "factorial-of-power", "giant-factorial", "tower-plus-fraction"],
)
def test_pathological_input_times_out_not_hangs(g: Grader, pred: str) -> None:
    verdict, seconds = timed_check(g, pred, "\\frac{1}{3}")
    assert not verdict.equivalent
    assert verdict.timed_out, verdict
    assert seconds < TIMEOUT + 2.0
    # The replacement worker grades the next case correctly.
    assert g.check("\\boxed{0.5}", "\\frac{1}{2}").equivalent


@pytest.mark.parametrize(
    ("pred", "gold"),
    [
        ("", "18"),
        ("18", ""),
        ("\\boxed{}", "18"),
        ("\\boxed{)(}{][}", "18"),
        ("\\boxed{\\frac{}{}}", "\\frac{1}{2}"),
        ("\\boxed{\\begin{pmatrix} 1 & \\\\ \\end{bmatrix}}", "1"),
        ("\\boxed{\x00\x01\x02}", "1"),
        ("\\boxed{😀}", "1"),
        ("\\boxed{\\undefinedcommand{3}}", "4"),
        ("\\boxed{" + "(" * 500 + "2" + ")" * 500 + "}", "1"),
    ],
    ids=[
        "empty-pred",
        "empty-gold",
        "empty-box",
        "unbalanced",
        "empty-frac",
        "broken-matrix",
        "control-chars",
        "emoji",
        "unknown-command",
        "deep-parens",
    ],
)
def test_garbage_is_not_equivalent(g: Grader, pred: str, gold: str) -> None:
    verdict, seconds = timed_check(g, pred, gold)
    assert verdict.equivalent is False
    assert seconds < TIMEOUT + 2.0


def test_megabyte_inputs(g: Grader) -> None:
    huge_text = "Let us think. " * 75_000 + "Answer: \\boxed{18}"
    verdict, seconds = timed_check(g, huge_text, "18")
    assert verdict.equivalent and seconds < 2.0
    huge_answer = "\\boxed{" + "1+" * 500_000 + "1}"
    verdict, seconds = timed_check(g, huge_answer, "18")
    assert not verdict.equivalent and verdict.error and "longer than" in verdict.error
    assert seconds < 2.0
    verdict, seconds = timed_check(g, "x" * 1_000_000, "18")
    assert not verdict.equivalent and verdict.pred_answer is None and seconds < 2.0


def test_killed_worker_is_replaced(g: Grader) -> None:
    assert g.check("\\boxed{0.5}", "\\frac{1}{2}").equivalent
    victim = g.worker_pids[0]
    os.kill(victim, signal.SIGKILL)
    time.sleep(0.2)
    verdicts = g.check_batch([("\\boxed{0.5}", "\\frac{1}{2}")] * 4)
    assert all(v.equivalent and not v.timed_out for v in verdicts)
    assert victim not in g.worker_pids


def test_batch_keeps_order_with_a_timeout_in_the_middle(g: Grader) -> None:
    pairs = [
        ("\\boxed{\\frac{2}{4}}", "0.5"),
        ("\\boxed{9^{9^{9^{9}}}}", "1"),
        ("\\boxed{\\sqrt{8}}", "2\\sqrt{2}"),
        ("\\boxed{\\sqrt{8}}", "3\\sqrt{2}"),
        ("#### 1,000", "1000"),
        ("\\boxed{(1, 2)}", "(2, 1)"),
    ]
    start = time.monotonic()
    verdicts = g.check_batch(pairs)
    assert time.monotonic() - start < TIMEOUT + 4.0
    assert [v.equivalent for v in verdicts] == [True, False, True, False, True, False]
    assert [v.timed_out for v in verdicts] == [False, True, False, False, False, False]
    assert [v.gold for v in verdicts] == [gold for _, gold in pairs]
    assert verdicts[4].pred_answer == "1,000"


def test_fast_path_needs_no_worker() -> None:
    with Grader(workers=1) as fresh:
        verdicts = fresh.check_batch(
            [("#### 1,000", "1000"), ("\\boxed{18}", "18.0"), ("\\boxed{17}", "18"), ("", "3")]
        )
        assert [v.equivalent for v in verdicts] == [True, True, False, False]
        assert fresh.worker_pids == []


def test_a_power_of_one_is_one_without_sympy() -> None:
    with Grader(workers=1) as fresh:
        verdicts = fresh.check_batch(
            [
                ("\\boxed{1^{(2^{235423523})}}", "1"),
                ("\\boxed{1^{2^{10}}}", "2"),
                ("\\boxed{5}", "1^{7}"),
            ]
        )
        assert [v.equivalent for v in verdicts] == [True, False, False]
        assert [v.method for v in verdicts] == ["fast"] * 3
        assert fresh.worker_pids == []


def test_threads_share_a_grader(g: Grader) -> None:
    results: list[bool] = []

    def work() -> None:
        results.append(g.check("\\boxed{\\frac{\\sqrt{3}}{3}}", "\\frac{1}{\\sqrt{3}}").equivalent)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 4


def test_closed_grader_refuses_work() -> None:
    grader = Grader(workers=1)
    grader.start()
    pids = grader.worker_pids
    grader.close()
    with pytest.raises(GraderError):
        grader.check("\\boxed{0.5}", "\\frac{1}{2}")
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_is_equivalent() -> None:
    assert is_equivalent("\\boxed{1,000}", "1000")
    assert is_equivalent("The answer is $\\frac{1}{2}$.", "0.5")
    assert not is_equivalent("\\boxed{3}", "\\frac{1}{3}")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        Grader(workers=0)
    with pytest.raises(ValueError):
        Grader(timeout=0)


@pytest.mark.skipif(not os.path.exists("/proc/self/cmdline"), reason="needs /proc")
def test_workers_are_fresh_interpreters(g: Grader) -> None:
    for pid in g.worker_pids:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
        assert b"thinktree.grading.worker" in argv  # exec'd, not a fork of the parent
