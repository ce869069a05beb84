"""A stored search tree laid out for drawing as SVG, with the chosen path marked.

Layout: leaves take consecutive columns in depth-first order (children by node
id), a parent sits midway between its first and last child, and depth is the
row. Every node carries two fills, one on a diverging scale of its Q value and
one of its PPM score, so the page can switch colouring without asking again;
its radius grows with the square root of its share of the most visited node's
visits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

MARGIN = 24.0
COLUMN = 56.0
ROW = 72.0
MIN_RADIUS = 5.0
MAX_RADIUS = 14.0
LABEL_ROOM = 20.0
"""Room below the deepest row for an answer's label."""
NO_SCORE = "#c8c8c8"
"""Fill of a node without a value on the chosen scale (PPM score absent)."""

_LOW = (0xB2, 0x18, 0x2B)  # −1: red
_MID = (0xF7, 0xF7, 0xF7)  # 0: near white
_HIGH = (0x21, 0x66, 0xAC)  # +1: blue


def value_colour(value: float | None) -> str:
    """``value`` clamped to [−1, 1] on a red–white–blue scale, as ``#rrggbb``."""
    if value is None or math.isnan(value):
        return NO_SCORE
    t = max(-1.0, min(1.0, value))
    end = _HIGH if t >= 0 else _LOW
    share = abs(t)
    rgb = (round(m + (e - m) * share) for m, e in zip(_MID, end, strict=True))
    return "#" + "".join(f"{c:02x}" for c in rgb)


@dataclass(frozen=True)
class NodeView:
    id: int
    parent: int | None
    depth: int
    x: float
    y: float
    r: float
    fill_q: str
    fill_score: str
    visits: int
    q: float
    score: float | None
    terminal: bool
    terminal_reason: str | None
    answer: str | None
    correct: bool | None
    step: dict[str, Any] | None
    chosen: bool

    @property
    def kind(self) -> str:
        if self.step is None:
            return "question"
        return str(self.step.get("kind", "step"))


@dataclass(frozen=True)
class EdgeView:
    parent: int
    child: int
    x1: float
    y1: float
    x2: float
    y2: float
    chosen: bool


@dataclass(frozen=True)
class TreeView:
    nodes: list[NodeView]
    edges: list[EdgeView]
    width: float
    height: float

    @property
    def chosen_leaf(self) -> int | None:
        chosen = [n for n in self.nodes if n.chosen]
        return max(chosen, key=lambda n: n.depth).id if chosen else None


def chosen_path(nodes: list[dict[str, Any]], steps: list[dict[str, Any]]) -> set[int]:
    """Ids of the nodes from the root along ``steps`` (matched by step text).

    ``steps`` is the chosen trajectory's; the walk stops where no child's step has
    the next text, so a trajectory the tree does not hold marks only the root."""
    children = _children(nodes)
    roots = children.get(None, [])
    if not roots:
        return set()
    by_id = {n["id"]: n for n in nodes}
    current = roots[0]
    path = {current}
    for step in steps:
        match = next(
            (
                c
                for c in children.get(current, [])
                if (by_id[c]["step"] or {}).get("text") == step.get("text")
            ),
            None,
        )
        if match is None:
            break
        current = match
        path.add(current)
    return path


def layout(nodes: list[dict[str, Any]], chosen: set[int]) -> TreeView:
    """Positions, sizes and fills of ``nodes`` (a stored tree's ``nodes`` list)."""
    if not nodes:
        return TreeView([], [], 2 * MARGIN, 2 * MARGIN + LABEL_ROOM)
    children = _children(nodes)
    by_id = {n["id"]: n for n in nodes}
    column: dict[int, float] = {}
    next_leaf = 0

    def place(node_id: int) -> float:
        nonlocal next_leaf
        kids = children.get(node_id, [])
        if not kids:
            column[node_id] = float(next_leaf)
            next_leaf += 1
        else:
            spots = [place(k) for k in kids]
            column[node_id] = (spots[0] + spots[-1]) / 2
        return column[node_id]

    for root in children.get(None, []):
        place(root)
    most = max((n["visits"] for n in nodes), default=0) or 1
    views = [
        NodeView(
            id=n["id"],
            parent=n["parent"],
            depth=n["depth"],
            x=MARGIN + COLUMN * column[n["id"]],
            y=MARGIN + ROW * n["depth"],
            r=round(MIN_RADIUS + (MAX_RADIUS - MIN_RADIUS) * math.sqrt(n["visits"] / most), 2),
            fill_q=value_colour(n["q"]),
            fill_score=value_colour(n["score"]),
            visits=n["visits"],
            q=n["q"],
            score=n["score"],
            terminal=n["terminal"],
            terminal_reason=n["terminal_reason"],
            answer=n["answer"],
            correct=n["correct"],
            step=n["step"],
            chosen=n["id"] in chosen,
        )
        for n in nodes
        if n["id"] in column
    ]
    at = {v.id: v for v in views}
    edges = [
        EdgeView(
            parent=v.parent,
            child=v.id,
            x1=at[v.parent].x,
            y1=at[v.parent].y,
            x2=v.x,
            y2=v.y,
            chosen=v.chosen and at[v.parent].chosen,
        )
        for v in views
        if v.parent is not None and v.parent in at
    ]
    depth = max(n["depth"] for n in by_id.values())
    return TreeView(
        views,
        edges,
        width=2 * MARGIN + COLUMN * max(next_leaf - 1, 0),
        height=2 * MARGIN + ROW * depth + LABEL_ROOM,
    )


def _children(nodes: list[dict[str, Any]]) -> dict[int | None, list[int]]:
    children: dict[int | None, list[int]] = {}
    for node in sorted(nodes, key=lambda n: n["id"]):
        children.setdefault(node["parent"], []).append(node["id"])
    return children
