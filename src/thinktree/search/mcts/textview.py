"""A stored tree as indented text, one node per line."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

DEFAULT_WIDTH = 70


class TreeTextConfig(BaseModel):
    """How ``thinktree tree`` prints a tree (its options are generated from it)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    width: int = DEFAULT_WIDTH
    """Characters of each step shown."""


def _summary(step: dict[str, Any] | None, width: int) -> str:
    if step is None:
        return "(question)"
    if step.get("answer") is not None:
        text = f"Answer: {step['answer']}"
    elif step.get("code"):
        lines = [ln.strip() for ln in step["code"].splitlines() if ln.strip()]
        comment = next((ln.lstrip("# ") for ln in lines if ln.startswith("#")), "")
        code = next((ln for ln in lines if not ln.startswith("#")), "")
        text = f"{comment} | {code}" if comment else code
        output = step.get("output", "")
        text += f" -> {output.splitlines()[0] if output else ''}"
    else:
        text = f"({step.get('kind', 'invalid')}) {step.get('text', '').strip()}"
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def render_tree(tree: dict[str, Any], width: int = DEFAULT_WIDTH) -> str:
    nodes = {n["id"]: n for n in tree["nodes"]}
    children: dict[int | None, list[int]] = {}
    for node in tree["nodes"]:
        children.setdefault(node["parent"], []).append(node["id"])
    lines: list[str] = []

    def visit(node_id: int, indent: int) -> None:
        n = nodes[node_id]
        tags = [f"N={n['visits']}", f"Q={n['q']:+.2f}"]
        if n.get("score") is not None:
            tags.append(f"score={n['score']:+.2f}")
        if n.get("terminal_reason"):
            tags.append(n["terminal_reason"])
        if n.get("correct") is not None:
            tags.append("correct" if n["correct"] else "wrong")
        lines.append(f"{'  ' * indent}[{n['id']}] {' '.join(tags)}  {_summary(n['step'], width)}")
        for child in children.get(node_id, []):
            visit(child, indent + 1)

    for root in children.get(None, []):
        visit(root, 0)
    return "\n".join(lines)
