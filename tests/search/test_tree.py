"""Pure MCTS tree algorithms on hand-built trees, with exact numbers."""

from __future__ import annotations

import math
import random

import pytest

from thinktree.search.mcts.tree import (
    Node,
    add_local,
    agreement_values,
    backup,
    check_invariants,
    choose_answer,
    deserialize,
    group_answers,
    revalue,
    select_child,
    select_leaf,
    serialize,
    uct_score,
)
from thinktree.search.voting import majority_vote
from thinktree.steps import Step, StepKind, dedupe_key


def code_step(code: str, output: str = "") -> Step:
    return Step(text=f"\n```python\n{code}\n```\n", kind=StepKind.CODE, code=code, output=output)


def answer_step(answer: str) -> Step:
    return Step(text=f"\nAnswer: \\boxed{{{answer}}}", kind=StepKind.FINAL, answer=answer)


def child(parent: Node, node_id: int, step: Step | None = None) -> Node:
    node = Node(
        node_id, parent=parent, step=step or code_step(f"x = {node_id}"), depth=parent.depth + 1
    )
    parent.children.append(node)
    parent.expanded = True
    return node


def test_uct_rstar_rule_and_classic() -> None:
    parent = Node(0, visits=4)
    unvisited = Node(1, parent=parent)
    visited = Node(2, parent=parent, visits=2, value_sum=1.0)
    assert uct_score(unvisited, 4, 2.0, unvisited_first=False) == 0.0
    assert uct_score(unvisited, 4, 2.0, unvisited_first=True) == math.inf
    assert uct_score(visited, 4, 2.0, False) == pytest.approx(0.5 + 2 * math.sqrt(math.log(4) / 2))


def test_select_child_prefers_highest_and_first_on_ties() -> None:
    root = Node(0, visits=3)
    a, b, c = child(root, 1), child(root, 2), child(root, 3)
    # All unvisited under rStar's rule: each scores 0 -> the first child.
    assert select_child(root, 2.0) is a
    a.visits, a.value_sum = 1, -1.0  # Q=-1, U=2*sqrt(ln3/1)=2.096 -> 1.096
    b.visits, b.value_sum = 2, 2.0  # Q=1, U=2*sqrt(ln3/2)=1.482 -> 2.482
    assert select_child(root, 2.0) is b
    assert select_child(root, 0.0) is b
    b.terminal = True  # terminal children are never selected
    assert select_child(root, 0.0) is c  # c: 0 beats a: -1 when c_uct = 0
    assert select_child(root, 2.0) is a
    # Classic UCT takes the unvisited child first.
    assert select_child(root, 2.0, unvisited_first=True) is c


def test_select_leaf_descends_and_marks_exhausted() -> None:
    root = Node(0)
    a = child(root, 1)
    b = child(root, 2)
    a1 = child(a, 3, answer_step("5"))
    a1.terminal, a1.terminal_reason = True, "answer"
    a.expanded = True
    # a's only child is terminal: a is exhausted on the way; the descent takes b.
    assert select_leaf(root, 2.0) is b
    assert a.exhausted and not root.exhausted
    b.expanded = True  # expanded, but no children: exhausted too
    assert select_leaf(root, 2.0) is None
    assert root.exhausted


def test_backup_and_local_updates_keep_invariants() -> None:
    root = Node(0)
    a = child(root, 1)
    add_local(a, 0.4)  # PPM initialisation: stays at a
    t = child(a, 2, answer_step("8"))
    t.terminal, t.terminal_reason = True, "answer"
    backup(t, 1.0)
    bad = child(a, 3, Step(text="blah", kind=StepKind.INVALID))
    bad.terminal, bad.terminal_reason = True, "invalid"
    add_local(bad, -1.0)
    t2 = child(root, 4, answer_step("9"))
    t2.terminal, t2.terminal_reason = True, "answer"
    backup(t2, -1.0)
    assert (root.visits, root.value_sum) == (2, 0.0)
    assert (a.visits, a.value_sum) == (2, 1.4)
    assert a.q_value == pytest.approx(0.7)
    assert (bad.visits, bad.value_sum) == (1, -1.0)
    assert check_invariants(root) == []
    a.visits += 1  # a bookkeeping slip is reported
    assert check_invariants(root) == [
        "node 0: N-n_local=2 but children give 3",
        "node 1: N-n_local=2 but children give 1",
    ]


def test_dedupe_key_ignores_comments_and_whitespace() -> None:
    one = code_step("# total cost\ncost = 4 * 3\nprint(cost)")
    two = code_step("cost = 4*3   # the cost\nprint( cost )")
    three = code_step("cost = 12\nprint(cost)")
    assert dedupe_key(one) == dedupe_key(two) != dedupe_key(three)
    assert dedupe_key(answer_step("8")) == dedupe_key(answer_step(" 8 "))
    assert dedupe_key(answer_step("8")) != dedupe_key(answer_step("9"))


def test_answer_choice_by_mean_value_and_q_votes() -> None:
    root = Node(0)
    nodes = []
    for node_id, (answer, value) in enumerate(
        [("8", 0.5), ("9", 0.9), ("8.0", 1.0), ("9", -0.1)], 1
    ):
        n = child(root, node_id, answer_step(answer))
        n.terminal, n.terminal_reason = True, "answer"
        backup(n, value)
        nodes.append(n)
    same = lambda a, b: float(a) == float(b)  # noqa: E731
    groups = group_answers(nodes, same)
    assert [[n.id for n in g] for g in groups] == [[1, 3], [2, 4]]
    answer, means, votes = choose_answer(groups)
    assert answer == "8"
    assert means == {"8": 0.75, "9": 0.4}
    assert votes == {"8": pytest.approx(0.75 + 1.0), "9": pytest.approx(0.95 + 0.45)}


def test_serialize_round_trip() -> None:
    root = Node(0)
    a = child(root, 1, code_step("x = 1", "1"))
    t = child(a, 2, answer_step("1"))
    t.terminal, t.terminal_reason, t.correct = True, "answer", True
    backup(t, 1.0)
    again = deserialize(serialize(root))
    assert serialize(again) == serialize(root)
    assert again.children[0].children[0].answer == "1"


def test_majority_vote_weights_and_ties() -> None:
    same = lambda a, b: a.strip() == b.strip()  # noqa: E731
    assert majority_vote(["3", "4", " 4", None, "3"], same) == ("3", {"3": 2.0, "4": 2.0})
    assert majority_vote(["3", "4", " 4"], same) == ("4", {"3": 1.0, "4": 2.0})
    assert majority_vote([None, None], same) == (None, {})
    assert majority_vote(["3", "4"], same, weights=[0.2, 0.5]) == ("4", {"3": 0.2, "4": 0.5})


def test_agreement_values_of_a_b_b_b_and_revalue() -> None:
    """Answers A, B, B, B: A agrees with none of 3 others (-1), each B with 2 of 3 (+1/3)."""
    root = Node(0)
    a = child(root, 1)
    terminals = []
    for node_id, answer in enumerate(["5", "6", "6", "6"], 2):
        t = child(a if node_id < 4 else root, node_id, answer_step(answer))
        t.terminal, t.terminal_reason = True, "answer"
        backup(t, 0.0)
        terminals.append(t)
    groups = group_answers(terminals, lambda x, y: x == y)
    values = agreement_values(groups)
    assert values == pytest.approx({2: -1.0, 3: 1 / 3, 4: 1 / 3, 5: 1 / 3})
    for t in terminals:
        revalue(t, values[t.id])
    assert (a.visits, a.value_sum) == (2, pytest.approx(-2 / 3))
    assert (root.visits, root.value_sum) == (4, pytest.approx(0.0))
    assert check_invariants(root) == []
    assert choose_answer(groups)[0] == "6"
    assert agreement_values(groups[:1]) == {2: 0.0}  # a lone answer is worth 0


def test_random_tie_break_draws_with_the_node_seed() -> None:
    root = Node(0, visits=3)
    kids = [child(root, i) for i in (1, 2, 3)]
    for seed in range(5):
        expected = kids[random.Random(seed).randrange(3)]
        assert select_child(root, 2.0, tie_seed=lambda node, s=seed: s) is expected
    picks = {select_child(root, 2.0, tie_seed=lambda node, s=s: s).id for s in range(20)}
    assert picks == {1, 2, 3}
    kids[1].visits, kids[1].value_sum = 1, 1.0  # no tie: the seed does not matter
    assert all(select_child(root, 2.0, tie_seed=lambda n, s=s: s) is kids[1] for s in range(5))


def test_invalid_terminals_may_be_backed_up_once() -> None:
    root = Node(0)
    bad = child(root, 1, Step(text="blah", kind=StepKind.INVALID))
    bad.terminal, bad.terminal_reason = True, "invalid"
    backup(bad, -1.0)  # invalid_backup = "path"
    assert check_invariants(root) == []
    backup(bad, -1.0)
    assert check_invariants(root) == ["node 1: invalid terminal with N-n_local=2"]
