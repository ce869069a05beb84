"""The MCTS tree and its pure algorithms: selection, backup, answer choice.

Semantics (after rStar-Math), written down because they surprise:

- ``N`` and ``W`` of a node are the sums of every update that reached it;
  ``Q = W / N`` (0 when ``N == 0``).
- Local updates stay at one node and are not propagated: the PPM score that
  initialises a new non-terminal node (its first update), and, with
  ``invalid_backup = "local"`` (full expansion's default), the −1 of an invalid
  terminal (no answer, too deep, too many consecutive errors). With ``"path"`` (rStar's code)
  an invalid terminal's −1 is backed up like an answer's value; with ``"visits"``
  it stays local and a value of 0 is backed up from the terminal (N grows along
  the path, W does not).
- A terminal answer's value (outcome ±1, its PPM score, or its agreement value)
  is added to that node and to every node on its path to the root.
- A terminal's value may be revised later (no-scorer agreement values are
  re-valued as answers arrive): :func:`revalue` adds the change to the terminal's
  and its ancestors' ``W``, leaving every ``N`` as it is.
- Hence, for every node: ``N − n_local = [is backed-up terminal] + Σ_children
  (N_c − n_local_c)``, and the same for ``W`` (:func:`check_invariants`).
- Selection (default, rStar's rule): among a node's children that are neither
  terminal nor exhausted, pick the highest ``Q + c·sqrt(ln N_parent / N_child)``,
  where a child with ``N == 0`` scores 0 with no bonus; ties go to the first
  child, or, given a ``tie_seed``, to one drawn at random with that node's seed.
  ``unvisited_first`` gives classic UCT (an unvisited child first).
- Lazy expansion (:class:`LazyWidth`): a node's children are sampled one at a
  time. While a node may still take a new child, the child not yet sampled
  competes in selection as an unvisited child would (score 0, or first with
  ``unvisited_first``); when it wins, :func:`select_child` returns the node
  itself, meaning "sample a new child here".
- A node is exhausted when it is expanded and none of its children can be
  selected (nor, lazily, sampled); the root exhausted means the tree has nothing
  left to explore.
- Agreement values (no scorer, :func:`agreement_values`): answers are grouped
  into classes of equivalent answers by
  :func:`thinktree.grading.voting.answer_classes` (named by their first member, in
  discovery order, as the majority vote groups them); with ``T`` answer terminals, each
  member of a class of ``c`` is worth ``2·(c − 1)/(T − 1) − 1`` (0 when ``T = 1``):
  its agreement with all the other answers. Every member of a class has the same
  value, increasing in ``c``, so the highest mean value is the largest class and
  :func:`choose_answer` picks the majority vote's answer (ties: found first).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from thinktree.grading.voting import answer_classes
from thinktree.search.voting import leading
from thinktree.steps import Step


@dataclass(eq=False)
class Node:
    id: int
    parent: Node | None = None
    step: Step | None = None
    depth: int = 0
    children: list[Node] = field(default_factory=list)
    visits: int = 0
    value_sum: float = 0.0
    local_visits: int = 0
    local_value: float = 0.0
    terminal: bool = False
    terminal_reason: str | None = None
    """"answer", "invalid", "errors", "too_deep"."""
    score: float | None = None
    """The scorer's value of this node (PPM), if any."""
    expanded: bool = False
    exhausted: bool = False
    correct: bool | None = None
    asks: int = 0
    """Lazy expansion: the single-candidate requests this node has made."""

    @property
    def q_value(self) -> float:
        return self.value_sum / self.visits if self.visits else 0.0

    @property
    def answer(self) -> str | None:
        if self.terminal_reason == "answer" and self.step is not None:
            return self.step.answer
        return None

    def path(self) -> list[Node]:
        """Nodes from the first step down to this node (the root excluded)."""
        nodes: list[Node] = []
        node: Node | None = self
        while node is not None and node.parent is not None:
            nodes.append(node)
            node = node.parent
        return nodes[::-1]

    def steps(self) -> list[Step]:
        return [n.step for n in self.path() if n.step is not None]

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()

    def selectable(self) -> bool:
        return not self.terminal and not self.exhausted


def uct_score(child: Node, parent_visits: int, c_uct: float, unvisited_first: bool) -> float:
    if child.visits == 0:
        return math.inf if unvisited_first else 0.0
    if parent_visits <= 0:
        return child.q_value
    return child.q_value + c_uct * math.sqrt(math.log(parent_visits) / child.visits)


TieSeed = Callable[["Node"], int]
"""The seed of a random tie-break at a node; None in a signature means "first child"."""


@dataclass(frozen=True)
class LazyWidth:
    """Lazy expansion's bound: a node takes at most ``k`` children and makes at most
    ``max_asks`` single-candidate requests (a request that repeats a child adds none)."""

    k: int
    max_asks: int

    def open(self, node: Node) -> bool:
        """Whether ``node`` may still sample a new child."""
        return not node.terminal and len(node.children) < self.k and node.asks < self.max_asks


def select_child(
    node: Node,
    c_uct: float,
    unvisited_first: bool = False,
    tie_seed: TieSeed | None = None,
    lazy: LazyWidth | None = None,
) -> Node | None:
    """The selectable child with the highest UCT score, or None.

    Ties (scores equal to 1e-12) go to the first child, or with ``tie_seed`` to one
    drawn by ``random.Random(tie_seed(node))``, so the draw depends on the node and
    never on the order other searches ran in. With ``lazy``, a child not yet sampled
    competes last, scored as an unvisited child; ``node`` itself is returned when it
    wins.
    """
    scored = [
        (child, uct_score(child, node.visits, c_uct, unvisited_first))
        for child in node.children
        if child.selectable()
    ]
    if lazy is not None and lazy.open(node):
        scored.append((node, math.inf if unvisited_first else 0.0))
    if not scored:
        return None
    best_score = max(score for _, score in scored)
    tied = [
        child
        for child, score in scored
        if score == best_score or math.isclose(score, best_score, rel_tol=1e-12, abs_tol=1e-12)
    ]
    if tie_seed is None or len(tied) == 1:
        return tied[0]
    return random.Random(tie_seed(node)).choice(tied)


def select_leaf(
    root: Node,
    c_uct: float,
    unvisited_first: bool = False,
    tie_seed: TieSeed | None = None,
    lazy: LazyWidth | None = None,
) -> Node | None:
    """Descend from ``root`` to the node to expand next: an unexpanded selectable node,
    or with ``lazy`` one where sampling a new child won selection; None if exhausted."""
    while root.selectable():
        node = root
        while node.expanded:
            child = select_child(node, c_uct, unvisited_first, tie_seed, lazy)
            if child is None:
                node.exhausted = True
                break
            if child is node:
                return node
            node = child
        else:
            return node
    return None


def add_local(node: Node, value: float) -> None:
    node.visits += 1
    node.value_sum += value
    node.local_visits += 1
    node.local_value += value


def backup(node: Node, value: float) -> None:
    """Add a terminal's value to the node and every ancestor."""
    current: Node | None = node
    while current is not None:
        current.visits += 1
        current.value_sum += value
        current = current.parent


def revalue(node: Node, value: float) -> None:
    """Make a backed-up terminal's value ``value`` for each time it was backed up: the
    change goes up the path, N stays."""
    delta = value * (node.visits - node.local_visits) - (node.value_sum - node.local_value)
    if delta == 0.0:
        return
    current: Node | None = node
    while current is not None:
        current.value_sum += delta
        current = current.parent


def check_invariants(root: Node, tolerance: float = 1e-5) -> list[str]:
    """Problems with the N/W bookkeeping; an empty list when the tree is consistent.

    ``W`` sums are compared to ``tolerance``: a serialised tree rounds every ``W`` to
    6 decimals, and agreement values such as 1/3 do not survive that exactly.

    An answer terminal is backed up once, and once more each time a lazy rollout
    re-finds it (``repeat_answers = "vote"``); another terminal once (backed up,
    ``invalid_backup = "path"`` or ``"visits"``) or never (local).
    """
    problems = []
    for node in root.walk():
        n_prop = node.visits - node.local_visits
        w_prop = node.value_sum - node.local_value
        if node.terminal:
            ok = n_prop >= 1 if node.terminal_reason == "answer" else n_prop in (0, 1)
            if node.children or not ok or (n_prop == 0 and abs(w_prop) > tolerance):
                problems.append(
                    f"node {node.id}: {node.terminal_reason} terminal with N-n_local={n_prop}"
                )
            continue
        n_sum = sum(c.visits - c.local_visits for c in node.children)
        w_sum = sum(c.value_sum - c.local_value for c in node.children)
        if n_prop != n_sum:
            problems.append(f"node {node.id}: N-n_local={n_prop} but children give {n_sum}")
        if abs(w_prop - w_sum) > tolerance:
            problems.append(f"node {node.id}: W-w_local={w_prop:.6f} but children give {w_sum:.6f}")
    return problems


def backups(node: Node) -> int:
    """How many times a terminal's value was backed up (at least once for an answer)."""
    return max(1, node.visits - node.local_visits)


def answer_nodes(root: Node) -> list[Node]:
    return [n for n in root.walk() if n.terminal_reason == "answer"]


def group_answers(nodes: list[Node], same: Callable[[str, str], bool]) -> list[list[Node]]:
    """Terminal answer nodes grouped into classes of equivalent answers, in discovery order
    (:func:`thinktree.grading.voting.answer_classes`'s rule)."""
    ordered = sorted(nodes, key=lambda n: n.id)
    groups: list[list[Node]] = []
    for node, class_id in zip(
        ordered, answer_classes([n.answer or "" for n in ordered], same), strict=True
    ):
        if class_id == len(groups):
            groups.append([])
        groups[class_id].append(node)
    return groups


def agreement_values(groups: list[list[Node]]) -> dict[int, float]:
    """Each answer terminal's agreement with all the others: ``2·(c − 1)/(T − 1) − 1``.

    ``groups`` are the classes of :func:`group_answers`; ``c`` is a terminal's class
    size and ``T`` the number of terminals. A lone terminal is worth 0. Keyed by node id.
    """
    total = sum(len(group) for group in groups)
    values: dict[int, float] = {}
    for group in groups:
        value = 0.0 if total < 2 else 2.0 * (len(group) - 1) / (total - 1) - 1.0
        for node in group:
            values[node.id] = value
    return values


def choose_answer(
    groups: list[list[Node]],
) -> tuple[str | None, dict[str, float], dict[str, float]]:
    """(answer with the highest mean terminal value, mean value per answer, Q-weighted votes).

    Q-weighted votes sum ``(Q + 1) / 2`` over an answer's terminals, once for each time
    a terminal was backed up, so a vote is never negative. Ties go to the answer found
    first.
    """
    means: dict[str, float] = {}
    votes: dict[str, float] = {}
    unrounded: list[float] = []
    for group in groups:
        answer = group[0].answer or ""
        unrounded.append(sum(n.q_value for n in group) / len(group))
        means[answer] = round(unrounded[-1], 6)
        votes[answer] = round(sum((n.q_value + 1) / 2 * backups(n) for n in group), 6)
    best = leading(unrounded)
    return (None if best is None else groups[best][0].answer or ""), means, votes


def serialize(root: Node) -> dict[str, Any]:
    nodes = []
    for node in root.walk():
        nodes.append(
            {
                "id": node.id,
                "parent": node.parent.id if node.parent is not None else None,
                "depth": node.depth,
                "step": node.step.to_dict() if node.step is not None else None,
                "visits": node.visits,
                "value_sum": round(node.value_sum, 6),
                "q": round(node.q_value, 6),
                "local_visits": node.local_visits,
                "local_value": round(node.local_value, 6),
                "terminal": node.terminal,
                "terminal_reason": node.terminal_reason,
                "answer": node.answer,
                "score": node.score,
                "expanded": node.expanded,
                "correct": node.correct,
            }
        )
    return {"nodes": nodes}


def deserialize(data: dict[str, Any]) -> Node:
    by_id: dict[int, Node] = {}
    root: Node | None = None
    for item in data["nodes"]:
        parent = by_id.get(item["parent"]) if item["parent"] is not None else None
        node = Node(
            id=item["id"],
            parent=parent,
            step=Step.from_dict(item["step"]) if item["step"] is not None else None,
            depth=item["depth"],
            visits=item["visits"],
            value_sum=item["value_sum"],
            local_visits=item["local_visits"],
            local_value=item["local_value"],
            terminal=item["terminal"],
            terminal_reason=item["terminal_reason"],
            score=item["score"],
            expanded=item["expanded"],
            correct=item["correct"],
        )
        by_id[node.id] = node
        if parent is None:
            root = node
        else:
            parent.children.append(node)
    if root is None:
        raise ValueError("tree has no root")
    return root
