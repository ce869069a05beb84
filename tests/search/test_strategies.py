"""greedy, sc, best_of_n and beam on the scripted engine, with exact expectations."""

from __future__ import annotations

import pytest

from tests.conftest import answer, cell, depth_of
from tests.search.helpers import TableScorer, solve_scripted
from thinktree.problems import Problem
from thinktree.search import SearchConfig
from thinktree.steps import StepKind

PROBLEM = Problem(
    id="pens", question="Ana buys 4 pens at 3 dollars and pays 20. Change?", answer="8"
)


def pens_script(request, index):
    depth = depth_of(request.prompt)
    return [
        cell("cost = 4 * 3\nprint(cost)"),
        cell("change = 20 - cost\nprint(change)"),
        answer("8"),
    ][min(depth, 2)]


def test_greedy_runs_cells_in_trajectory_state(sandbox, grader) -> None:
    (result,), engine = solve_scripted(pens_script, sandbox, grader, [PROBLEM], strategy="greedy")
    steps = result.trajectories[0].steps
    assert [s.kind for s in steps] == [StepKind.CODE, StepKind.CODE, StepKind.FINAL]
    assert [s.output for s in steps[:2]] == ["12", "8"]  # cost carried over into step 2
    assert result.answer == "8"
    assert [r.temperature for batch in engine.calls for r in batch] == [0.0, 0.0, 0.0]
    assert engine.calls[1][0].prompt.endswith("```\nOutput: 12\n\nStep 2:")
    assert result.usage.generated_tokens == 8 + 8 + 2  # whitespace-separated words
    assert result.usage.engine_calls == 3


def test_greedy_error_is_fed_back_and_repaired(sandbox, grader) -> None:
    def script(request, index):
        depth = depth_of(request.prompt)
        return [cell("print(cost)"), cell("cost = 12\nprint(cost)"), answer("12")][depth]

    (result,), engine = solve_scripted(script, sandbox, grader, [PROBLEM], strategy="greedy")
    first, second, _ = result.trajectories[0].steps
    assert first.kind is StepKind.ERROR and first.output == "NameError: name 'cost' is not defined"
    assert engine.calls[1][0].prompt.endswith(
        "Output: NameError: name 'cost' is not defined\n\nStep 2:"
    )
    assert second.kind is StepKind.CODE and second.output == "12"
    assert result.answer == "12"


PRELUDE_NAMES = (
    "print(Fraction(3, 4) * 48, math.floor(2.5), sympy.Integer(2) + 1, fractions.Fraction(1, 2))"
)


def test_the_cell_prelude_binds_the_names_the_prompt_offers(sandbox, grader) -> None:
    """With the prelude a cell may use Fraction, fractions, math and sympy unimported (the
    prompt says it may); without it such a cell fails. The prompt is the same either way."""

    def script(request, index):
        return [cell(PRELUDE_NAMES), cell("print(Fraction(1, 3) + 1)"), answer("36")][
            depth_of(request.prompt)
        ]

    name_error = "NameError: name 'Fraction' is not defined"
    runs = {}
    for prelude in (True, False):
        (result,), engine = solve_scripted(
            script, sandbox, grader, [PROBLEM], strategy="greedy", cell_prelude=prelude
        )
        runs[prelude] = ([s.output for s in result.trajectories[0].steps], result.answer)
        runs[prelude, "prompt"] = engine.calls[0][0].prompt
    assert runs[True] == (["36 2 3 1/2", "4/3", ""], "36")
    assert runs[False] == ([name_error, name_error], None)  # two errors end the branch
    assert runs[True, "prompt"] == runs[False, "prompt"]


def test_greedy_stops_after_two_consecutive_errors(sandbox, grader) -> None:
    (result,), engine = solve_scripted(
        lambda r, i: cell("raise ValueError('no')"), sandbox, grader, [PROBLEM], strategy="greedy"
    )
    assert [s.error for s in result.trajectories[0].steps] == ["ValueError: no"] * 2
    assert result.answer is None and len(engine.calls) == 2


def test_greedy_stops_on_invalid_step_and_max_steps(sandbox, grader) -> None:
    (result,), _ = solve_scripted(
        lambda r, i: "Let me think.", sandbox, grader, [PROBLEM], strategy="greedy"
    )
    assert [s.kind for s in result.trajectories[0].steps] == [StepKind.INVALID]
    (result,), _engine = solve_scripted(
        lambda r, i: cell("print(1)"), sandbox, grader, [PROBLEM], strategy="greedy", max_steps=3
    )
    assert len(result.trajectories[0].steps) == 3 and result.answer is None


def test_prompt_too_long_fails_alone(sandbox, grader) -> None:
    from thinktree.engines.scripted import ScriptedEngine
    from thinktree.reward import NullScorer
    from thinktree.search import SearchContext, run_search
    from thinktree.search.judge import GraderJudge

    engine = ScriptedEngine(pens_script, max_prompt_words=400)
    ctx = SearchContext(
        engine, sandbox, SearchConfig(strategy="greedy"), GraderJudge(grader), NullScorer()
    )
    long = Problem("long", "word " * 500, "1")
    short, too_long = run_search([PROBLEM, long], ctx, window=2)
    assert short.answer == "8"
    assert too_long.answer is None
    assert too_long.trajectories[0].steps[0].error.startswith("request (")


def test_self_consistency_majority_vote(sandbox, grader) -> None:
    answers = ["8", "8.0", "9", "7"]

    def script(request, index):
        if depth_of(request.prompt) == 0 and request.n > 1:
            return cell(f"a = {answers[index]}\nprint(a)")
        value = request.prompt.rsplit("Output: ", 1)[1].split("\n")[0]
        return answer(value)

    (result,), engine = solve_scripted(script, sandbox, grader, [PROBLEM], strategy="sc", samples=4)
    assert [len(b) for b in engine.calls] == [1, 4]  # n=4 first step, then 4 single steps
    assert engine.calls[0][0].n == 4 and engine.calls[0][0].temperature == 0.7
    assert result.sample_answers == ["8", "8.0", "9", "7"]
    assert result.answer == "8"
    assert result.votes == {"8": 2.0, "9": 1.0, "7": 1.0}
    seeds = [r.seed for r in engine.calls[1]]
    assert len(set(seeds)) == 4


def test_best_of_n_picks_the_highest_scored_answer(sandbox, grader) -> None:
    answers = ["8", "8", "9", "7"]

    def script(request, index):
        return answer(answers[index])

    scorer = TableScorer(lambda item: {"8": 0.1, "9": 0.7, "7": -0.2}[item.steps[-1].answer])
    (result,), _ = solve_scripted(
        script, sandbox, grader, [PROBLEM], scorer=scorer, strategy="best_of_n", samples=4
    )
    assert result.answer == "9"
    assert result.votes == {"8": 0.1, "9": 0.7, "7": -0.2}
    assert scorer.calls == [4]


def test_best_of_n_and_beam_refuse_without_a_learned_scorer(sandbox, grader) -> None:
    for strategy in ("best_of_n", "beam"):
        with pytest.raises(ValueError, match="needs a learned scorer"):
            solve_scripted(pens_script, sandbox, grader, [PROBLEM], strategy=strategy)


def test_beam_keeps_the_best_partial_solutions(sandbox, grader) -> None:
    def script(request, index):
        depth = depth_of(request.prompt)
        if depth == 0:
            return cell(f"x = {index + 1}\nprint(x)")
        x = request.prompt.rsplit("Output: ", 1)[1].split("\n")[0]
        return [answer(x), cell(f"y = {x} * 10\nprint(y)")][index % 2]

    def value(item):
        last = item.steps[-1]
        if last.answer is not None:
            return int(last.answer) / 10
        return {"1": 0.1, "2": 0.5, "3": 0.3}.get(last.output, 0.0)

    scorer = TableScorer(value)
    (result,), engine = solve_scripted(
        script,
        sandbox,
        grader,
        [PROBLEM],
        scorer=scorer,
        strategy="beam",
        samples=2,
        k=3,
        max_steps=3,
    )
    # Round 1: x=1,2,3 scored .1,.5,.3 -> beams x=2, x=3.
    # Round 2: each beam -> answer x (final) and y=10x (live): finals 2 (.2) and 3 (.3).
    assert [len(b) for b in engine.calls] == [1, 2]
    assert result.answer == "3"
    assert [t.answer for t in result.trajectories] == ["3", "2"]


@pytest.mark.parametrize(
    ("options", "width", "slots", "window"),
    [
        ({"strategy": "greedy"}, 1, 4, 4),
        ({"strategy": "sc", "samples": 8}, 8, 8, 1),
        ({"strategy": "sc", "samples": 64}, 64, 16, 1),
        # Settling sc asks for its first wave at once, so more problems fill the slots.
        ({"strategy": "sc", "samples": 4, "settle": "confident"}, 1, 4, 4),
        ({"strategy": "sc", "samples": 4, "settle": "decided"}, 2, 4, 2),
        ({"strategy": "sc", "samples": 8, "settle": "agree", "settle_m": 3}, 3, 4, 1),
        ({"strategy": "sc", "samples": 8, "settle": "beta", "settle_m": 2}, 2, 4, 2),
        ({"strategy": "best_of_n", "samples": 4}, 4, 4, 1),
        ({"strategy": "mcts", "samples": 16, "k": 3, "expand": "all"}, 3, 4, 1),
        ({"strategy": "mcts", "samples": 16, "k": 3, "expand": "lazy"}, 1, 4, 4),
        ({"strategy": "beam", "samples": 2, "k": 3}, 6, 6, 1),
    ],
)
def test_default_slots_and_window(options: dict, width: int, slots: int, window: int) -> None:
    from thinktree.search.registry import default_slots, default_window
    from thinktree.search.registry import width as search_width

    config = SearchConfig(**options)
    assert (search_width(config), default_slots(config), default_window(config, slots)) == (
        width, slots, window)  # fmt: skip


@pytest.mark.parametrize("strategy", ["greedy", "best_of_n", "beam"])
def test_a_settle_rule_is_refused_by_a_strategy_that_never_settles(strategy: str) -> None:
    """Best-of-N's scorer, not a vote, picks its answer: it draws every sample."""
    with pytest.raises(ValueError, match=f"--settle confident: {strategy} does not settle early"):
        SearchConfig(strategy=strategy, samples=4, settle="confident")


def test_beam_with_some_solutions_finished_keeps_searching(sandbox, grader) -> None:
    """A beam search holding finished solutions but fewer than ``samples`` is still
    running: the driver used to take its list of finished solutions for its own
    "done" flag and dropped the problem without a result."""

    def script(request, index):
        depth = depth_of(request.prompt)
        if depth == 0:
            return answer("1") if index == 0 else cell(f"x = {index}\nprint(x)")
        return answer(str(depth + index))

    (result,), engine = solve_scripted(
        script, sandbox, grader, [Problem("p", "q?", "1")],
        scorer=TableScorer(lambda item: 0.5), strategy="beam", samples=3, k=2, max_steps=4,
    )  # fmt: skip
    assert [len(batch) for batch in engine.calls] == [1, 1]
    assert [t.answer for t in result.trajectories] == ["1", "1", "2"]
    assert (result.answer, result.stop_reason) == ("1", "done")
