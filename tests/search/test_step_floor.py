"""Dropping unsure samples: sc ends a sample at its first step whose mean token
probability is below ``step_floor``, and the sample answers nothing."""

from __future__ import annotations

import math

import pytest

from tests.conftest import answer, cell, depth_of
from tests.search.helpers import solve_scripted
from thinktree.problems import Problem
from thinktree.search import SearchConfig
from thinktree.search.identity import run_identity
from thinktree.search.registry import resolved

PROBLEM = Problem(id="p1", question="What is 3 * 2?", answer="6")
SURE, UNSURE = -0.1, -0.5  # exp: 0.905 and 0.607, either side of a floor of 0.69


def one_step_answers(answers: list[str]):
    """Sample i's only step answers ``answers[i]`` (one call draws all first steps)."""
    return lambda request, index: answer(answers[index])


def test_an_unsure_sample_is_dropped_from_the_vote(sandbox, grader) -> None:
    # 8 7 7 8 ties and goes to 8, found first; with the first sample dropped 7 wins.
    answers = ["8", "7", "7", "8"]
    logprobs = [UNSURE, SURE, SURE, SURE]
    (full,), _ = solve_scripted(
        one_step_answers(answers), sandbox, grader, [PROBLEM], strategy="sc", samples=4,
        logprob=lambda request, index: logprobs[index],
    )  # fmt: skip
    assert (full.answer, full.sample_answers, full.extra) == ("8", answers, {})
    (cut,), _ = solve_scripted(
        one_step_answers(answers), sandbox, grader, [PROBLEM], strategy="sc", samples=4,
        step_floor=0.69, logprob=lambda request, index: logprobs[index],
    )  # fmt: skip
    assert cut.answer == "7"
    assert cut.sample_answers == [None, "7", "7", "8"]
    assert [t.answer for t in cut.trajectories] == [None, "7", "7", "8"]
    assert cut.extra == {"dropped": 1}
    assert cut.votes == {"7": 2, "8": 1}


def test_a_sample_ends_at_its_first_unsure_step(sandbox, grader) -> None:
    """Two samples: a cell, then an answer. The second sample's cell is unsure, so it
    is not extended: one first-step call of n = 2, then one call for the first sample
    only; it spends only its first step's tokens."""

    def script(request, index):
        return cell("print(6)") if depth_of(request.prompt) == 0 else answer("6")

    def logprob(request, index):
        return UNSURE if depth_of(request.prompt) == 0 and index == 1 else SURE

    (result,), engine = solve_scripted(
        script, sandbox, grader, [PROBLEM], strategy="sc", samples=2, step_floor=0.69,
        logprob=logprob,
    )  # fmt: skip
    assert [r.n for batch in engine.calls for r in batch] == [2, 1]
    first, second = result.trajectories
    assert [len(first.steps), len(second.steps)] == [2, 1]
    assert (result.answer, result.sample_answers, result.extra) == (
        "6",
        ["6", None],
        {"dropped": 1},
    )
    assert math.isclose(math.exp(second.steps[0].mean_logprob), math.exp(UNSURE))
    assert result.usage.generated_tokens == sum(
        s.tokens for t in result.trajectories for s in t.steps
    )


def test_an_unsure_first_sample_is_not_trusted_and_the_waves_go_on(sandbox, grader) -> None:
    """Trusted at 0.5, the first sample (7 at exp(-0.5) = 0.61) would settle alone;
    below the floor it is dropped, and the waves go on as under decided."""

    def solve(**floor: float):
        queue, logprobs = ["7", "8", "8"], [UNSURE, SURE, SURE]
        (result,), engine = solve_scripted(
            lambda request, index: answer(queue.pop(0)), sandbox, grader, [PROBLEM],
            strategy="sc", samples=4, settle="confident", settle_token_probability=0.5,
            logprob=lambda request, index: logprobs.pop(0), **floor,
        )  # fmt: skip
        return result, [r.n for batch in engine.calls for r in batch]

    trusted, waves = solve()
    assert (waves, trusted.answer, trusted.extra) == ([1], "7", {"samples": 1})
    dropped, waves = solve(step_floor=0.69)
    # after [None], two of the three left can decide: 8 8 with one to come
    assert waves == [1, 2]
    assert (dropped.stop_reason, dropped.answer) == ("settled", "8")
    assert dropped.sample_answers == [None, "8", "8"]
    assert dropped.extra == {"samples": 3, "dropped": 1}


def test_a_sure_sample_is_never_dropped(sandbox, grader) -> None:
    (result,), _ = solve_scripted(
        one_step_answers(["6", "6"]), sandbox, grader, [PROBLEM], strategy="sc", samples=2,
        step_floor=0.69, logprob=lambda request, index: SURE,
    )  # fmt: skip
    assert (result.answer, result.extra) == ("6", {"dropped": 0})


@pytest.mark.parametrize("strategy", ["greedy", "best_of_n", "beam", "mcts"])
def test_other_strategies_refuse_a_step_floor(strategy: str) -> None:
    with pytest.raises(ValueError, match=f"drops unsure sc samples; {strategy} has none to drop"):
        resolved(SearchConfig(strategy=strategy, step_floor=0.69), scored=False)


def test_a_step_floor_needs_log_probabilities() -> None:
    with pytest.raises(ValueError, match="--step-floor reads token log-probabilities"):
        resolved(SearchConfig(strategy="sc", step_floor=0.69, logprobs=False), scored=False)


def test_the_floor_is_in_the_fingerprint_only_when_set() -> None:
    assert "step_floor" not in run_identity(SearchConfig(strategy="sc"), scored=False)
    floored = SearchConfig(strategy="sc", step_floor=0.69)
    assert run_identity(floored, scored=False)["step_floor"] == 0.69
