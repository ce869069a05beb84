"""MCTS on the scripted engine: exact trees, values, budgets and batching."""

from __future__ import annotations

import pytest

from tests.conftest import answer, assistant_part, cell, depth_of
from tests.search.helpers import TableScorer, solve_scripted
from thinktree.problems import Problem
from thinktree.reward import OutcomeScorer
from thinktree.search.mcts import check_invariants, deserialize

PROBLEM = Problem(id="p1", question="What is 3 * 2?", answer="6")


def branching_script(request, index):
    """depth 0: x=3, x=3 (duplicate), x=4; under x=3: answer 6, y=x*2, answer 7;
    under y: answer 6 (x3); under x=4: answer 8 (x3)."""
    text = assistant_part(request.prompt)
    depth = depth_of(request.prompt)
    if depth == 0:
        return [
            cell("x = 3\nprint(x)"),
            cell("x = 3  # same cell\nprint(x)"),
            cell("x = 4\nprint(x)"),
        ][index]
    if depth == 1 and "x = 3" in text:
        return [answer("6"), cell("y = x * 2\nprint(y)"), answer("7")][index]
    if depth == 1:
        return answer("8")
    return answer("6")


def without_timing(tree):
    """The tree minus measured durations, which differ from run to run."""
    return [
        {
            **n,
            "step": {k: v for k, v in n["step"].items() if k != "exec_seconds"}
            if n["step"]
            else None,
        }
        for n in tree["nodes"]
    ]


def nodes_by_id(result):
    return {n["id"]: n for n in result.tree["nodes"]}


def test_outcome_mode_tree_is_exact(sandbox, grader) -> None:
    (result,), engine = solve_scripted(
        branching_script,
        sandbox,
        grader,
        [PROBLEM],
        scorer=OutcomeScorer(),
        strategy="mcts",
        samples=2,
        k=3,
    )
    nodes = nodes_by_id(result)
    # root, x=3 (A), x=4 (B), A1=6, A2=y, A3=7, A2a=6, B1=8
    shape = {
        i: (n["parent"], n["visits"], n["value_sum"], n["terminal_reason"], n["answer"])
        for i, n in nodes.items()
    }
    assert shape == {
        0: (None, 4, 0.0, None, None),
        1: (0, 3, 1.0, None, None),
        2: (0, 1, -1.0, None, None),
        3: (1, 1, 1.0, "answer", "6"),
        4: (1, 1, 1.0, None, None),
        5: (1, 1, -1.0, "answer", "7"),
        6: (4, 1, 1.0, "answer", "6"),
        7: (2, 1, -1.0, "answer", "8"),
    }
    assert nodes[1]["step"]["output"] == "3" and nodes[4]["step"]["output"] == "6"
    assert [n["correct"] for n in (nodes[3], nodes[5], nodes[6], nodes[7])] == [
        True,
        False,
        True,
        False,
    ]
    assert result.answer == "6"
    assert result.extra["rollouts"] == 2
    assert result.extra["mean_value"] == {"6": 1.0, "7": -1.0, "8": -1.0}
    assert result.votes == {"6": 2.0, "7": 0.0, "8": 0.0}
    assert result.stop_reason == "done"
    # Expansion order: root, A, A2 (rollout 1), then B (rollout 2); each one call with n=k.
    assert [len(batch) for batch in engine.calls] == [1, 1, 1, 1]
    assert all(r.n == 3 for batch in engine.calls for r in batch)
    assert check_invariants(deserialize(result.tree)) == []


def test_tree_is_exhausted_before_rollouts_run_out(sandbox, grader) -> None:
    (result,), _ = solve_scripted(
        branching_script,
        sandbox,
        grader,
        [PROBLEM],
        scorer=OutcomeScorer(),
        strategy="mcts",
        samples=10,
        k=3,
    )
    assert result.extra["rollouts"] == 2
    assert result.stop_reason == "exhausted"


def test_earlier_agreement_values_without_scorer(sandbox, grader) -> None:
    (result,), _ = solve_scripted(
        branching_script, sandbox, grader, [PROBLEM], strategy="mcts", expand="all", samples=2, k=3,
        agreement="earlier",
    )  # fmt: skip
    nodes = nodes_by_id(result)
    # Answers in discovery order: 6 (first: 0), 7 (0 of 1 agree: -1), 6 (1 of 2: 0), 8 (0 of 3: -1)
    values = {i: nodes[i]["value_sum"] for i in (3, 5, 6, 7)}
    assert values == {3: 0.0, 5: -1.0, 6: 0.0, 7: -1.0}
    assert result.answer == "6"
    assert check_invariants(deserialize(result.tree)) == []


def test_agreement_values_without_scorer_use_all_answers(sandbox, grader) -> None:
    (result,), _ = solve_scripted(
        branching_script, sandbox, grader, [PROBLEM], strategy="mcts", expand="all", samples=2, k=3
    )
    nodes = nodes_by_id(result)
    # Answers 6, 7, 6, 8 (T = 4): 6 agrees with 1 of 3 others (-1/3), 7 and 8 with none (-1).
    values = {i: nodes[i]["value_sum"] for i in (3, 5, 6, 7)}
    assert values == pytest.approx({3: -1 / 3, 5: -1.0, 6: -1 / 3, 7: -1.0})
    # Re-valued along the paths: A (x=3) holds 6, 7 and (via y) 6; the root all four.
    assert nodes[1]["value_sum"] == pytest.approx(-5 / 3) and nodes[1]["visits"] == 3
    assert nodes[4]["value_sum"] == pytest.approx(-1 / 3)
    assert nodes[0]["value_sum"] == pytest.approx(-8 / 3) and nodes[0]["visits"] == 4
    assert result.answer == "6"
    assert check_invariants(deserialize(result.tree)) == []


def test_ppm_scores_initialise_nodes_and_guide_selection(sandbox, grader) -> None:
    def value(item):
        last = item.steps[-1]
        if last.answer is not None:
            return {"6": 0.9, "7": -0.8, "8": 0.1}[last.answer]
        return 0.8 if "x = 4" in (last.code or "") else 0.2

    scorer = TableScorer(value)
    (result,), engine = solve_scripted(
        branching_script, sandbox, grader, [PROBLEM], scorer=scorer, strategy="mcts", samples=1, k=3
    )
    nodes = nodes_by_id(result)
    # Root children: A (x=3, 0.2), B (x=4, 0.8): local updates, not propagated.
    assert (nodes[1]["local_visits"], nodes[1]["local_value"]) == (1, 0.2)
    assert (nodes[2]["local_visits"], nodes[2]["local_value"]) == (1, 0.8)
    # The rollout follows the higher PPM value: B, whose only child is the answer 8 (0.1).
    assert nodes[3]["answer"] == "8" and nodes[3]["parent"] == 2
    assert nodes[3]["value_sum"] == pytest.approx(0.1)
    assert nodes[2]["visits"] == 2 and nodes[2]["value_sum"] == pytest.approx(0.9)
    assert nodes[0]["visits"] == 1 and nodes[0]["value_sum"] == pytest.approx(0.1)
    assert result.answer == "8"
    assert scorer.calls == [2, 1]  # one batched scoring call per expansion, deduped children
    assert len(engine.calls) == 2
    assert check_invariants(deserialize(result.tree)) == []


def test_errors_threshold_and_invalid_steps_end_branches(sandbox, grader) -> None:
    def script(request, index):
        depth = depth_of(request.prompt)
        if depth == 0:
            return [cell("print(1 / 0)"), "I am not sure what to do."][index]
        return cell("print(undefined_name)")

    (result,), _ = solve_scripted(
        script, sandbox, grader, [PROBLEM], strategy="mcts", expand="all", samples=1, k=2
    )
    nodes = nodes_by_id(result)
    assert nodes[1]["step"]["error"] == "ZeroDivisionError: division by zero"
    assert nodes[1]["step"]["output"] == "ZeroDivisionError: division by zero"
    assert (nodes[2]["terminal_reason"], nodes[2]["visits"], nodes[2]["value_sum"]) == (
        "invalid",
        1,
        -1.0,
    )
    assert nodes[3]["parent"] == 1
    assert nodes[3]["step"]["error"] == "NameError: name 'undefined_name' is not defined"
    assert (nodes[3]["terminal_reason"], nodes[3]["value_sum"]) == ("errors", -1.0)
    assert nodes[0]["visits"] == 0  # invalid terminals are not propagated
    assert result.answer is None
    assert check_invariants(deserialize(result.tree)) == []


def test_max_steps_makes_deep_nodes_terminal(sandbox, grader) -> None:
    def script(request, index):
        return cell(f"v = {depth_of(request.prompt)}\nprint(v)")

    (result,), _ = solve_scripted(
        script, sandbox, grader, [PROBLEM], strategy="mcts", samples=1, k=2, max_steps=3
    )
    reasons = [n["terminal_reason"] for n in result.tree["nodes"] if n["terminal"]]
    assert reasons == ["too_deep"]
    assert max(n["depth"] for n in result.tree["nodes"]) == 3


@pytest.mark.parametrize(
    ("budget", "reason"),
    [({"max_tokens": 5}, "max_tokens"), ({"max_seconds": 1e-9}, "max_seconds")],
)
def test_budgets_stop_the_search(sandbox, grader, budget, reason) -> None:
    (result,), engine = solve_scripted(
        branching_script,
        sandbox,
        grader,
        [PROBLEM],
        strategy="mcts",
        expand="all",
        samples=8,
        k=3,
        **budget,
    )
    assert result.stop_reason == reason
    # tokens: the first expansion (3 candidates of 5 words) exceeds 5 tokens; seconds: none
    assert len(engine.calls) == (1 if reason == "max_tokens" else 0)


def test_lock_step_batches_problems_of_different_depth(sandbox, grader) -> None:
    def script(request, index):
        depth = depth_of(request.prompt)
        if "short" in request.prompt:
            return answer("1")
        return cell(f"v = {depth}\nprint(v)") if depth < 2 else answer("2")

    problems = [Problem("short", "short one?", "1"), Problem("long", "long one?", "2")]
    results, engine = solve_scripted(
        script, sandbox, grader, problems, strategy="mcts", samples=1, k=2, temperature=0.0
    )
    assert [len(batch) for batch in engine.calls] == [2, 1, 1]
    assert [r.answer for r in results] == ["1", "2"]


def test_same_seed_same_tree_regardless_of_batching(sandbox, grader) -> None:
    def script(request, index):
        depth = depth_of(request.prompt)
        value = (request.seed + index) % 5
        return cell(f"v = {value}\nprint(v)") if depth < 2 else answer(str(value))

    problems = [Problem(f"p{i}", f"question {i}?", "3") for i in range(3)]
    together, _ = solve_scripted(
        script, sandbox, grader, problems, strategy="mcts", samples=3, k=2, seed=7, window=3
    )
    alone, _ = solve_scripted(
        script, sandbox, grader, problems[::-1], strategy="mcts", samples=3, k=2, seed=7, window=1
    )
    assert [without_timing(r.tree) for r in together] == [
        without_timing(r.tree) for r in alone[::-1]
    ]
    other_seed, _ = solve_scripted(
        script, sandbox, grader, problems, strategy="mcts", samples=3, k=2, seed=8, window=3
    )
    assert [without_timing(r.tree) for r in other_seed] != [
        without_timing(r.tree) for r in together
    ]
    # Random tie-breaking and resampling draw from derived seeds too: same trees either way.
    knobs = {"tie_break": "random", "resample": 2, "seed": 7, "strategy": "mcts", "k": 3}
    knobs |= {"expand": "all"}  # full expansion here; lazy below
    together, _ = solve_scripted(script, sandbox, grader, problems, samples=3, window=3, **knobs)
    alone, _ = solve_scripted(script, sandbox, grader, problems[::-1], samples=3, window=1, **knobs)
    assert [without_timing(r.tree) for r in together] == [
        without_timing(r.tree) for r in alone[::-1]
    ]
    lazy = {**knobs, "expand": "lazy"}  # one-candidate requests, seeded per node and ask
    together, _ = solve_scripted(script, sandbox, grader, problems, samples=3, window=3, **lazy)
    alone, _ = solve_scripted(script, sandbox, grader, problems[::-1], samples=3, window=1, **lazy)
    assert [without_timing(r.tree) for r in together] == [
        without_timing(r.tree) for r in alone[::-1]
    ]


def test_ppm_values_choose_the_answer_against_the_vote(sandbox, grader) -> None:
    """rStar with a learned scorer: a new node starts at its PPM score, a terminal's value
    is its score, and the answer is the one whose terminals score highest on average,
    even where more terminals (the vote, and here the Q-weighted vote) say another."""

    def script(request, index):
        if depth_of(request.prompt) == 0:
            return [cell("x = 4\nprint(x)"), cell("x = 5 - 1\nprint(x)"),
                    cell("x = 3\nprint(x)")][index]  # fmt: skip
        return answer("6" if "x = 3" in assistant_part(request.prompt) else "8")

    def value(item):
        last = item.steps[-1]
        if last.answer is not None:
            return {"6": 0.9, "8": 0.1}[last.answer]
        return {"x = 4": 0.8, "x = 5 - 1": 0.7, "x = 3": 0.2}[last.code.splitlines()[0]]

    (result,), _ = solve_scripted(
        script, sandbox, grader, [PROBLEM], scorer=TableScorer(value), strategy="mcts",
        samples=3, k=3,
    )  # fmt: skip
    nodes = nodes_by_id(result)
    # The three first steps start at their scores, one local visit each.
    assert [(nodes[i]["local_visits"], nodes[i]["local_value"]) for i in (1, 2, 3)] == [
        (1, 0.8), (1, 0.7), (1, 0.2)]  # fmt: skip
    # Rollouts in score order: x = 4 -> 8, x = 5 - 1 -> 8, x = 3 -> 6.
    terminals = [(n["parent"], n["answer"], n["value_sum"]) for n in nodes.values() if n["answer"]]
    assert terminals == [(1, "8", 0.1), (2, "8", 0.1), (3, "6", 0.9)]
    assert result.extra["mode"] == "learned"
    assert result.extra["mean_value"] == {"8": 0.1, "6": 0.9}
    assert result.votes == {"8": 1.1, "6": 0.95}  # (Q + 1)/2 summed: 8 would win
    assert result.answer == "6"
    assert check_invariants(deserialize(result.tree)) == []


def test_ppm_with_outcome_values_answers_by_gold(sandbox, grader) -> None:
    """ppm+outcome (rStar's later training rollouts): the PPM initialises new nodes and
    steers selection, the gold answer values the terminal."""
    from thinktree.reward.outcome import OutcomeGuided

    def value(item):
        last = item.steps[-1]
        if last.answer is not None:
            return 0.9  # the PPM likes every answer; the outcome must override it
        return 0.8 if "x = 4" in (last.code or "") else 0.2

    scorer = OutcomeGuided(TableScorer(value))
    (result,), _ = solve_scripted(
        branching_script, sandbox, grader, [PROBLEM], scorer=scorer, strategy="mcts", samples=1, k=3
    )
    nodes = nodes_by_id(result)
    assert (nodes[1]["local_visits"], nodes[1]["local_value"]) == (1, 0.2)
    assert (nodes[2]["local_visits"], nodes[2]["local_value"]) == (1, 0.8)
    # B (x=4) is followed; its answer 8 is wrong: −1 from the gold answer, not the PPM's 0.9.
    assert nodes[3]["answer"] == "8" and nodes[3]["correct"] is False
    assert nodes[3]["value_sum"] == pytest.approx(-1.0)
    assert nodes[2]["visits"] == 2 and nodes[2]["value_sum"] == pytest.approx(-0.2)
    assert nodes[0]["visits"] == 1 and nodes[0]["value_sum"] == pytest.approx(-1.0)
    assert scorer.name == "table+outcome"


def test_ppm_with_outcome_needs_a_gold_answer(sandbox, grader) -> None:
    from thinktree.reward.outcome import OutcomeGuided

    scorer = OutcomeGuided(TableScorer(lambda item: 0.0))
    with pytest.raises(ValueError, match="no gold answer"):
        solve_scripted(
            branching_script, sandbox, grader, [Problem(id="q", question="What is 3 * 2?")],
            scorer=scorer, strategy="mcts", samples=1, k=3,
        )  # fmt: skip
