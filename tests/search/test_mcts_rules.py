"""MCTS's configurable rules on the scripted engine: answer values, ties, resampling,
invalid backup and settling, with exact trees."""

from __future__ import annotations

import random

import pytest

from tests.conftest import answer, assistant_part, cell, depth_of
from tests.search.helpers import solve_scripted
from thinktree.problems import Problem
from thinktree.search import SearchConfig
from thinktree.search.mcts import check_invariants, deserialize
from thinktree.search.mcts.search import MCTSSearch
from thinktree.search.registry import resolved
from thinktree.search.seeds import derive_seed
from thinktree.search.voting import majority_vote

PROBLEM = Problem(id="p1", question="What is 3 * 2?", answer="6")


def four_branches(answers: list[str]):
    """depth 0: four distinct cells x = 1..4; under x = i: the answer answers[i - 1]
    (k times, so deduplication leaves one child)."""

    def script(request, index):
        if depth_of(request.prompt) == 0:
            return cell(f"x = {index + 1}\nprint(x)")
        x = int(assistant_part(request.prompt).split("x = ")[1].split("\n")[0])
        return answer(answers[x - 1])

    return script


def shape(result):
    return {
        n["id"]: (n["parent"], n["visits"], round(n["value_sum"], 6), n["answer"])
        for n in result.tree["nodes"]
    }


def test_answers_a_b_b_b_are_valued_against_all_answers(sandbox, grader) -> None:
    """The issue's case: A is found first, then B three times. With values from all
    answers A is worth -1 and each B +1/3 (2·2/3 - 1): B, the vote's answer, wins."""
    (result,), engine = solve_scripted(
        four_branches(["5", "6", "6", "6"]), sandbox, grader, [PROBLEM],
        strategy="mcts", expand="all", samples=4, k=4, tie_break="first",
    )  # fmt: skip
    third = round(1 / 3, 6)
    assert shape(result) == {
        0: (None, 4, 0.0, None),
        1: (0, 1, -1.0, None),
        2: (0, 1, third, None),
        3: (0, 1, third, None),
        4: (0, 1, third, None),
        5: (1, 1, -1.0, "5"),
        6: (2, 1, third, "6"),
        7: (3, 1, third, "6"),
        8: (4, 1, third, "6"),
    }
    assert result.answer == "6"
    assert result.extra["mean_value"] == {"5": -1.0, "6": third}
    assert result.votes == {"5": 0.0, "6": 2.0}
    assert majority_vote(result.sample_answers, lambda a, b: a == b)[0] == result.answer
    assert [r.n for batch in engine.calls for r in batch] == [4, 4, 4, 4, 4]
    assert check_invariants(deserialize(result.tree)) == []


def test_answers_a_b_b_b_under_the_old_frozen_rule(sandbox, grader) -> None:
    """agreement = "earlier" reproduces the old rule: A (first) 0; the Bs -1, 0, +1/3,
    a mean of -2/9, so the lone A wins although a vote picks B."""
    (result,), _ = solve_scripted(
        four_branches(["5", "6", "6", "6"]), sandbox, grader, [PROBLEM],
        strategy="mcts", expand="all", samples=4, k=4, agreement="earlier",
        tie_break="first",
    )  # fmt: skip
    nodes = shape(result)
    assert [nodes[i][2] for i in (5, 6, 7, 8)] == [0.0, -1.0, 0.0, round(1 / 3, 6)]
    assert nodes[0] == (None, 4, round(-2 / 3, 6), None)
    assert result.extra["mean_value"] == {"5": 0.0, "6": round(-2 / 9, 6)}
    assert result.answer == "5"


def test_random_tie_break_uses_the_derived_seed(sandbox, grader) -> None:
    """Four unvisited root children tie at 0; the draw is Random(derive_seed(run seed,
    problem, "tie", rollout, node id)), so it changes with the run seed."""
    script = four_branches(["1", "2", "3", "4"])
    firsts = set()
    for seed in range(6):
        (result,), _ = solve_scripted(
            script, sandbox, grader, [PROBLEM], strategy="mcts", expand="all", samples=1, k=4,
            tie_break="random", seed=seed,
        )  # fmt: skip
        expected = random.Random(derive_seed(seed, "p1", "tie", 0, 0)).choice([1, 2, 3, 4])
        assert shape(result)[5][0] == expected  # the one answer lies under the drawn child
        firsts.add(expected)
        (first,), _ = solve_scripted(
            script, sandbox, grader, [PROBLEM], strategy="mcts", expand="all", samples=1, k=4, seed=seed,
            tie_break="first",
        )  # fmt: skip
        assert shape(first)[5][0] == 1  # tie_break = "first": always the first child
    assert len(firsts) > 1


def test_resampling_refills_a_node_left_short_by_dedupe(sandbox, grader) -> None:
    """Round 0 gives x = 3 three times (one child); resampling asks for the 2 missing,
    gets x = 4 and a repeat of x = 3 (dropped), then for 1 more and gets x = 5."""

    def script(request, index):
        if depth_of(request.prompt) > 0:
            return answer(request.prompt.rsplit("Output: ", 1)[1].split("\n")[0])
        if request.n == 3:
            return cell("x = 3\nprint(x)")
        if request.n == 2:
            return [cell("x = 4\nprint(x)"), cell("x = 3  # again\nprint(x)")][index]
        return cell("x = 5\nprint(x)")

    def run(resample):
        (result,), engine = solve_scripted(
            script, sandbox, grader, [PROBLEM], strategy="mcts", expand="all", samples=1, k=3,
            resample=resample,
        )  # fmt: skip
        return result, engine

    result, engine = run(2)
    codes = [n["step"]["code"] for n in result.tree["nodes"] if n["parent"] == 0]
    assert codes == ["x = 3\nprint(x)", "x = 4\nprint(x)", "x = 5\nprint(x)"]
    # x = 3's own expansion repeats one answer: it is resampled too, finding nothing new.
    assert [r.n for batch in engine.calls for r in batch] == [3, 2, 1, 3, 2, 2]
    seeds = [batch[0].seed for batch in engine.calls[:3]]
    assert seeds == [
        derive_seed(0, "p1", 0),
        derive_seed(0, "p1", 0, "resample", 1),
        derive_seed(0, "p1", 0, "resample", 2),
    ]
    assert result.extra["resampled"] == 4 and result.answer == "3"
    assert check_invariants(deserialize(result.tree)) == []
    bounded, engine = run(1)  # the bound: one extra round only
    assert [n["parent"] for n in bounded.tree["nodes"]].count(0) == 2
    assert [r.n for batch in engine.calls for r in batch] == [3, 2, 3, 2]
    plain, engine = run(0)  # the default: no resampling
    assert [n["parent"] for n in plain.tree["nodes"]].count(0) == 1
    assert "resampled" not in plain.extra


@pytest.mark.parametrize(
    ("invalid_backup", "root", "error_cell", "terminal"),
    [
        ("local", (0, 0.0), (0, 0.0), (1, -1.0)),
        ("path", (2, -2.0), (1, -1.0), (1, -1.0)),
        ("visits", (2, 0.0), (1, 0.0), (2, -1.0)),
    ],
)
def test_invalid_backup_local_or_along_the_path(
    sandbox, grader, invalid_backup, root, error_cell, terminal
) -> None:
    """Root: an erroring cell (1) and an unparsable step (2, invalid); under 1 a second
    error (3, two consecutive errors). local: each -1 stays put; path: it reaches the
    root; visits: it stays put and the path counts a visit worth 0."""

    def script(request, index):
        if depth_of(request.prompt) == 0:
            return [cell("print(1 / 0)"), "I am not sure what to do."][index]
        return cell("print(undefined_name)")

    (result,), _ = solve_scripted(
        script, sandbox, grader, [PROBLEM], strategy="mcts", expand="all", samples=1, k=2,
        invalid_backup=invalid_backup,
    )  # fmt: skip
    nodes = shape(result)
    assert nodes[0][1:3] == root
    assert nodes[1][1:3] == error_cell
    assert nodes[2][1:3] == terminal and nodes[3][1:3] == terminal
    assert check_invariants(deserialize(result.tree)) == []


@pytest.mark.parametrize(
    ("answers", "settle", "rollouts", "reason"),
    [
        (["6", "6", "6", "6"], {"settle": "agree", "settle_m": 2}, 2, "settled"),
        (["6", "7", "6", "6"], {"settle": "agree", "settle_m": 2}, 4, "exhausted"),
        (["6", "6", "6", "6"], {"settle": "beta", "settle_m": 2, "settle_confidence": 0.9}, 3,
         "settled"),  # 2 agree: 0.875 < 0.9; 3 agree: 0.9375
        (["6", "6", "6", "6"], {}, 4, "exhausted"),
    ],
)  # fmt: skip
def test_mcts_stops_when_its_answers_settle(
    sandbox, grader, answers, settle, rollouts, reason
) -> None:
    (result,), engine = solve_scripted(
        four_branches(answers), sandbox, grader, [PROBLEM], strategy="mcts", expand="all", samples=8, k=4,
        **settle,
    )  # fmt: skip
    assert result.stop_reason == reason
    assert result.extra["rollouts"] == rollouts
    assert len(engine.calls) == 1 + rollouts  # the root, then one expansion per rollout
    if settle:
        assert result.extra["answers_found"] == rollouts


def sequenced(roots: list[int], answers: dict[int, list[str]]):
    """Depth 0: the i-th request gets the cell x = roots[i]; under x = j, the i-th
    request gets the answer answers[j][i]. Lazy expansion asks for one candidate a
    request, so the order of requests decides the tree."""
    calls: dict[int, int] = {}

    def script(request, index):
        depth = depth_of(request.prompt)
        key = 0 if depth == 0 else int(assistant_part(request.prompt).split("x = ")[1][0])
        i = calls.get(key, 0)
        calls[key] = i + 1
        if depth == 0:
            return cell(f"x = {roots[i]}\nprint(x)")
        return answer(answers[key][i])

    return script


def test_lazy_expansion_samples_a_child_when_selection_picks_it(sandbox, grader) -> None:
    """Classic UCT (unvisited first): the child not yet sampled wins while a node has
    fewer than k = 2 children. Rollout 0 samples x = 1 and its answer 6; rollout 1 a
    second root child x = 2 and its answer 5 (both now worth -1); rollout 2, with the
    root full, goes down x = 1 (first of a tie) and samples a second answer there, 5."""
    (result,), engine = solve_scripted(
        sequenced([1, 2], {1: ["6", "5"], 2: ["5"]}), sandbox, grader, [PROBLEM],
        strategy="mcts", samples=3, k=2, expand="lazy", unvisited_first=True,
        tie_break="first",
    )  # fmt: skip
    assert shape(result) == {
        0: (None, 3, -1.0, None),
        1: (0, 2, -1.0, None),
        2: (1, 1, -1.0, "6"),
        3: (0, 1, 0.0, None),
        4: (3, 1, 0.0, "5"),
        5: (1, 1, 0.0, "5"),
    }
    assert result.answer == "5"
    assert [r.n for batch in engine.calls for r in batch] == [1, 1, 1, 1, 1]
    assert [batch[0].seed for batch in engine.calls] == [
        derive_seed(0, "p1", 0, "lazy", 0),
        derive_seed(0, "p1", 1, "lazy", 0),
        derive_seed(0, "p1", 0, "lazy", 1),
        derive_seed(0, "p1", 3, "lazy", 0),
        derive_seed(0, "p1", 1, "lazy", 1),
    ]
    assert result.extra["rollouts"] == 3 and result.extra["repeats"] == 0
    assert result.stop_reason == "done"
    assert check_invariants(deserialize(result.tree)) == []


def test_lazy_expansion_follows_a_repeat_and_bounds_requests(sandbox, grader) -> None:
    """rStar's rule (a child not yet sampled scores 0), k = 3, repeated answers dropped
    (the rule before ``vote``). Rollout 1 samples at x = 1 again and draws its answer 6
    a second time: no new node, the rollout ends in the child it repeats. Rollout 2
    draws 7. Rollout 3 finds x = 1 at its bound (three requests), so x = 1 is exhausted
    and the root samples x = 2, whose answer is 6."""
    (result,), engine = solve_scripted(
        sequenced([1, 2], {1: ["6", "6", "7"], 2: ["6"]}), sandbox, grader, [PROBLEM],
        strategy="mcts", samples=4, k=3, expand="lazy", unvisited_first=False, tie_break="first",
        repeat_answers="drop",
    )  # fmt: skip
    assert shape(result) == {
        0: (None, 3, -1.0, None),
        1: (0, 2, -1.0, None),
        2: (1, 1, 0.0, "6"),
        3: (1, 1, -1.0, "7"),
        4: (0, 1, 0.0, None),
        5: (4, 1, 0.0, "6"),
    }
    assert result.answer == "6"
    assert [(batch[0].seed, batch[0].n) for batch in engine.calls] == [
        (derive_seed(0, "p1", 0, "lazy", 0), 1),
        (derive_seed(0, "p1", 1, "lazy", 0), 1),
        (derive_seed(0, "p1", 1, "lazy", 1), 1),
        (derive_seed(0, "p1", 1, "lazy", 2), 1),
        (derive_seed(0, "p1", 0, "lazy", 1), 1),
        (derive_seed(0, "p1", 4, "lazy", 0), 1),
    ]
    assert result.extra["rollouts"] == 4 and result.extra["repeats"] == 1
    assert check_invariants(deserialize(result.tree)) == []


def test_a_repeated_answer_votes_again_when_asked(sandbox, grader) -> None:
    """The same script as above with ``repeat_answers="vote"``: rollout 1's second 6 at
    x = 1 backs node 2 up again (N = 2) and counts as an answer found, so 6 is worth
    +1 there; rollout 2 goes down x = 1 (Q = 1) and draws 7; rollout 3, x = 1 now at
    Q = -1/3, samples the root's second child x = 2, whose answer is 6. Agreement counts
    each backup: 6 three times of four answers (+1/3 each), 7 once (-1)."""
    (result,), engine = solve_scripted(
        sequenced([1, 2], {1: ["6", "6", "7"], 2: ["6"]}), sandbox, grader, [PROBLEM],
        strategy="mcts", samples=4, k=3, expand="lazy", unvisited_first=False, tie_break="first",
        repeat_answers="vote",
    )  # fmt: skip
    assert shape(result) == {
        0: (None, 4, 0.0, None),
        1: (0, 3, -0.333333, None),
        2: (1, 2, 0.666667, "6"),
        3: (1, 1, -1.0, "7"),
        4: (0, 1, 0.333333, None),
        5: (4, 1, 0.333333, "6"),
    }
    assert result.answer == "6"
    assert result.votes == {"6": 2.0, "7": 0.0}  # (1/3 + 1) / 2, three times
    assert len(engine.calls) == 6
    assert result.extra["rollouts"] == 4 and result.extra["repeats"] == 1
    assert check_invariants(deserialize(result.tree)) == []


def test_a_repeated_answer_counts_towards_settling(sandbox, grader) -> None:
    """With votes for repeats, a rollout that re-finds 6 makes the first two answers
    agree: ``settle agree, m = 2`` stops after two rollouts."""
    (result,), _ = solve_scripted(
        sequenced([1, 2], {1: ["6", "6", "7"], 2: ["6"]}), sandbox, grader, [PROBLEM],
        strategy="mcts", samples=4, k=3, expand="lazy", unvisited_first=False, tie_break="first",
        repeat_answers="vote", settle="agree", settle_m=2,
    )  # fmt: skip
    assert result.stop_reason == "settled"
    assert result.extra["rollouts"] == 2 and result.extra["answers_found"] == 2
    assert result.answer == "6"


def test_lazy_expansion_is_sized_as_one_sample_a_rollout() -> None:
    lazy = SearchConfig(strategy="mcts", samples=4, k=3, expand="lazy")
    assert MCTSSearch.width(lazy) == 1 and MCTSSearch.trajectories(lazy) == 4.0
    full = SearchConfig(strategy="mcts", samples=4, k=3, expand="all")
    assert MCTSSearch.width(full) == 3 and MCTSSearch.trajectories(full) == 7.5


def crashing_first_branch():
    """Depth 0: the i-th request gets x = i + 1; under x = 1 every step is unparsable
    (an invalid ending, worded anew each time), under any other x the answer 6."""
    roots = iter(range(1, 100))
    tries = iter(range(1, 100))

    def script(request, index):
        if depth_of(request.prompt) == 0:
            return cell(f"x = {next(roots)}\nprint(x)")
        if "x = 1\n" in assistant_part(request.prompt):
            return f"I am not sure what to do, try {next(tries)}."
        return answer("6")

    return script


@pytest.mark.parametrize(
    ("invalid_backup", "root", "first_branch", "ending"),
    [
        ("path", (None, 3, 1.0, None), (0, 1, -1.0, None), (1, 1, -1.0, None)),
        ("visits", (None, 3, 2.0, None), (0, 1, 0.0, None), (1, 2, -1.0, None)),
    ],
)
def test_lazy_expansion_moves_on_from_a_crashing_branch(
    sandbox, grader, invalid_backup, root, first_branch, ending
) -> None:
    """Lazy expansion: rollout 1's invalid ending under x = 1 leaves x = 1 at N = 1, so
    rollouts 2 and 3 sample new root children x = 2 and x = 3, whose answers are 6.
    path (rStar's code): the -1 reaches x = 1 (Q = -1) and the root. visits: the ending
    keeps its -1 (with the 0 visit, Q = -1/2), x = 1 has Q = 0, and the root's value is
    the two answers' alone."""
    (result,), engine = solve_scripted(
        crashing_first_branch(), sandbox, grader, [PROBLEM],
        strategy="mcts", samples=3, k=3, tie_break="first", invalid_backup=invalid_backup,
    )  # fmt: skip
    assert shape(result) == {
        0: root,
        1: first_branch,
        2: ending,
        3: (0, 1, 1.0, None),
        4: (3, 1, 1.0, "6"),
        5: (0, 1, 1.0, None),
        6: (5, 1, 1.0, "6"),
    }
    assert result.answer == "6" and len(engine.calls) == 6
    assert check_invariants(deserialize(result.tree)) == []


def test_a_crashing_branch_keeps_lazy_selection_under_the_local_rule(sandbox, grader) -> None:
    """The same script under the local rule (full expansion's default, lazy expansion's
    until the visits rule): x = 1 keeps N = 0 after each invalid ending, so as an
    unvisited child it wins selection every rollout until its three requests are spent,
    and the search ends with no answer."""
    (result,), engine = solve_scripted(
        crashing_first_branch(), sandbox, grader, [PROBLEM],
        strategy="mcts", samples=3, k=3, tie_break="first", invalid_backup="local",
    )  # fmt: skip
    assert [n["parent"] for n in result.tree["nodes"]] == [None, 0, 1, 1, 1]
    assert result.tree["nodes"][1]["visits"] == 0
    assert result.answer is None and len(engine.calls) == 4
    assert check_invariants(deserialize(result.tree)) == []


def test_lazy_rollouts_without_a_scorer_each_start_a_new_first_step(sandbox, grader) -> None:
    """The default without a scorer: k resolves to the rollouts (4) and invalid endings
    back up a visit. Rollout 1 crashes under x = 1, which then has N = 1; each later
    rollout samples a new root child (x = 2, 3, 4), so the four rollouts are four
    independent samples drawn step by step, as sc's are, and the three answers vote."""
    (result,), engine = solve_scripted(
        crashing_first_branch(), sandbox, grader, [PROBLEM], strategy="mcts", samples=4,
    )  # fmt: skip
    nodes = result.tree["nodes"]
    assert [n["parent"] for n in nodes] == [None, 0, 1, 0, 3, 0, 5, 0, 7]
    assert [n["answer"] for n in nodes if n["answer"]] == ["6", "6", "6"]
    assert nodes[1]["visits"] == 1 and nodes[0]["visits"] == 4
    assert result.answer == "6" and len(engine.calls) == 8
    assert check_invariants(deserialize(result.tree)) == []


def one_step_rollouts(texts: list[str]):
    """Each request (lazy: one a rollout, all at the root) gets the next of ``texts``:
    an answer, or with a leading ``!`` prose with none (an invalid ending)."""
    queue = list(texts)

    def script(request, index):
        text = queue.pop(0)
        return text[1:] if text.startswith("!") else answer(text)

    return script


LAZY_VOTE = {"strategy": "mcts", "samples": 4, "k": 4, "expand": "lazy",
             "unvisited_first": True, "invalid_backup": "visits", "temperature": 0.7}  # fmt: skip


@pytest.mark.parametrize(
    ("texts", "logprob", "rule", "rollouts", "reason", "chosen"),
    [
        # 6 6 of 4 cannot be outvoted (2 against 2 goes to 6, found first)
        (["6", "6"], -0.5, "decided", 2, "settled", "6"),
        # two rollouts end without an answer: with one left, 6 alone is decided
        (["6", "!I am not sure.", "!Let me think."], -0.5, "decided", 3, "settled", "6"),
        # 6 7 8 leaves 7 able to pass 6: the last rollout decides
        (["6", "7", "8", "7"], -0.5, "decided", 4, "done", "7"),
        # exp(-0.1) = 0.905 >= 0.87: the first rollout's answer alone
        (["7"], -0.1, "confident", 1, "settled", "7"),
        # exp(-0.5) = 0.61: then as decided (7 6 7: 6 can at most tie, and 7 came first)
        (["7", "6", "7"], -0.5, "confident", 3, "settled", "7"),
        # a confident first rollout that ends without an answer is not trusted
        (["!No idea.", "6", "6"], -0.1, "confident", 3, "settled", "6"),
    ],
)  # fmt: skip
def test_lazy_mcts_settles_on_the_vote_after_each_rollout(
    sandbox, grader, texts, logprob, rule, rollouts, reason, chosen
) -> None:
    """``decided`` and ``confident`` in a lazy, scorer-free tree: each rollout adds at
    most one answer (a repeat is a vote for the child it repeats), so the rollouts left
    bound the answers to come, and the search stops once they cannot change the vote."""
    (result,), engine = solve_scripted(
        one_step_rollouts(texts), sandbox, grader, [PROBLEM], settle=rule,
        logprob=lambda request, index: logprob, **LAZY_VOTE,
    )  # fmt: skip
    assert len(engine.calls) == len(texts) == rollouts
    assert (result.stop_reason, result.answer) == (reason, chosen)
    assert result.extra["rollouts"] == rollouts
    assert result.extra["answers_found"] == sum(not t.startswith("!") for t in texts)
    assert check_invariants(deserialize(result.tree)) == []


def test_the_vote_rules_keep_the_full_budgets_answer(sandbox, grader) -> None:
    """Settled by ``decided``, the tree answers what all four rollouts would have."""
    texts = ["6", "7", "6", "6"]
    (full,), _ = solve_scripted(one_step_rollouts(texts), sandbox, grader, [PROBLEM], **LAZY_VOTE)
    (early,), engine = solve_scripted(
        one_step_rollouts(texts), sandbox, grader, [PROBLEM], settle="decided", **LAZY_VOTE
    )
    assert (full.answer, full.extra["rollouts"]) == ("6", 4)
    assert (early.answer, early.extra["rollouts"], early.stop_reason) == ("6", 3, "settled")
    assert len(engine.calls) == 3


@pytest.mark.parametrize(
    ("config", "scored", "message"),
    [
        ({"expand": "all"}, False, "needs mcts to answer by vote, one answer a rollout"),
        ({}, True, "needs mcts to answer by vote"),  # a scorer: full expansion, no vote
        ({"agreement": "earlier"}, False, "needs mcts to answer by vote"),
        ({"logprobs": False}, False, "drop --no-logprobs"),
    ],
)
def test_the_vote_rules_are_refused_where_mcts_does_not_answer_by_vote(
    config, scored, message
) -> None:
    with pytest.raises(ValueError, match=message):
        resolved(SearchConfig(strategy="mcts", settle="confident", **config), scored=scored)
    lazy = resolved(SearchConfig(strategy="mcts", settle="decided"), scored=False)
    assert (lazy.options.expand, lazy.k, lazy.settle) == ("lazy", 4, "decided")
