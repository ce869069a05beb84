"""Laying out a stored tree: positions, sizes, fills and the chosen path, exactly."""

from __future__ import annotations

import pytest

from tests.viewer.conftest import node, step
from thinktree.viewer.tree import chosen_path, layout, value_colour


def small_tree() -> list[dict]:
    return [
        node(0, None, 0, None, 4, 0.0),
        node(1, 0, 1, step(code="a = 1"), 3, 0.5, score=-1.0),
        node(2, 0, 1, step(code="b = 2"), 1, -1.0),
        node(3, 1, 2, step("final", answer="1"), 0, 1.0, answer="1", correct=True, reason="answer"),
        node(4, 1, 2, step("final", answer="2"), 0, -0.5, answer="2", correct=False, reason="answer"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "colour"),
    [(1.0, "#2166ac"), (-1.0, "#b2182b"), (0.0, "#f7f7f7"), (0.5, "#8caed2"),
     (3.0, "#2166ac"), (-7.0, "#b2182b"), (None, "#c8c8c8"), (float("nan"), "#c8c8c8")],
)  # fmt: skip
def test_values_become_colours_on_a_clamped_red_white_blue_scale(value, colour) -> None:
    assert value_colour(value) == colour


def test_leaves_take_columns_and_parents_sit_between_their_children() -> None:
    tree = layout(small_tree(), {0, 1, 3})
    at = {n.id: (n.x, n.y, n.r) for n in tree.nodes}
    assert at == {
        0: (94.0, 24.0, 14.0),  # between node 1 (column 0.5) and node 2 (column 2)
        1: (52.0, 96.0, 12.79),  # 5 + 9·sqrt(3/4)
        2: (136.0, 96.0, 9.5),
        3: (24.0, 168.0, 5.0),
        4: (80.0, 168.0, 5.0),
    }
    assert (tree.width, tree.height) == (160.0, 212.0)
    assert [(e.parent, e.child, e.chosen) for e in tree.edges] == [
        (0, 1, True), (0, 2, False), (1, 3, True), (1, 4, False)
    ]  # fmt: skip
    assert tree.chosen_leaf == 3
    by_id = {n.id: n for n in tree.nodes}
    assert (by_id[1].fill_q, by_id[1].fill_score) == ("#8caed2", "#b2182b")
    assert (by_id[2].fill_q, by_id[2].fill_score) == ("#b2182b", "#c8c8c8")
    assert [n.kind for n in tree.nodes] == ["question", "code", "code", "final", "final"]


def test_the_chosen_path_follows_the_trajectory_by_step_text() -> None:
    nodes = small_tree()
    steps = [nodes[1]["step"], nodes[4]["step"]]
    assert chosen_path(nodes, steps) == {0, 1, 4}


def test_a_trajectory_the_tree_lacks_marks_only_the_root_and_what_matched() -> None:
    nodes = small_tree()
    assert chosen_path(nodes, [step(code="zzz")]) == {0}
    assert chosen_path(nodes, [nodes[1]["step"], step(code="zzz")]) == {0, 1}
    assert chosen_path([], [nodes[1]["step"]]) == set()


def test_an_empty_tree_and_an_orphan_node() -> None:
    empty = layout([], set())
    assert (empty.nodes, empty.edges, empty.width, empty.height) == ([], [], 48.0, 68.0)
    orphan = [*small_tree(), node(9, 77, 3, step(code="lost"), 1, 0.0)]
    assert [n.id for n in layout(orphan, set()).nodes] == [0, 1, 2, 3, 4]


def test_a_tree_of_unvisited_nodes_gets_the_smallest_radius() -> None:
    tree = layout([node(0, None, 0, None, 0, 0.0), node(1, 0, 1, step(code="x"), 0, 0.0)], set())
    assert [n.r for n in tree.nodes] == [5.0, 5.0]
    assert tree.chosen_leaf is None
