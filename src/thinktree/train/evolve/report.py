"""The evolve summary: one row per round as a markdown table, JSON and a PNG plot."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from thinktree.train.evolve.figures import chosen_round

COLUMNS: tuple[tuple[str, str], ...] = (
    ("round", "round"),
    ("pool_size", "pool"),
    ("pool_accuracy", "pool acc"),
    ("trajectories", "SFT traj."),
    ("pairs", "pairs"),
    ("sft_tokens", "SFT tokens"),
    ("sft_minutes", "SFT min"),
    ("ppm_pairwise_new", "PPM new"),
    ("dev_greedy", "dev greedy"),
    ("dev_greedy_in_format", "in format"),
    ("dev_mcts", "dev mcts"),
    ("pool_dev_greedy", "pool dev greedy"),
    ("pool_dev_sc", "pool dev sc"),
)
PERCENT = {"pool_accuracy", "ppm_pairwise_new", "dev_greedy", "dev_greedy_in_format", "dev_mcts",
           "pool_dev_greedy", "pool_dev_sc"}  # fmt: skip


def cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key in PERCENT:
        return f"{100 * value:.1f} %"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table_rows(rows: Sequence[dict[str, Any]]) -> list[list[str]]:
    return [[cell(key, row.get(key)) for key, _ in COLUMNS] for row in rows]


def markdown_summary(rows: Sequence[dict[str, Any]]) -> str:
    header = "| " + " | ".join(title for _, title in COLUMNS) + " |"
    rule = "|" + "|".join("---" for _ in COLUMNS) + "|"
    body = ["| " + " | ".join(r) + " |" for r in table_rows(rows)]
    lines = [header, rule, *body]
    for row in rows:
        vs = row.get("dev_greedy_vs_round0")
        if vs:
            lines.append(
                f"\nround {row['round']} greedy vs round 0 on the same problems: "
                f"won {vs['won']}, lost {vs['lost']} (sign test p = {vs['sign_test_p']:.3g})"
            )
    chosen = chosen_round(rows)
    if chosen is not None:
        row = next(r for r in rows if r["round"] == chosen)
        lines.append(
            f"\nround chosen on the pools' dev slices: {chosen} (greedy "
            f"{cell('pool_dev_greedy', row['pool_dev_greedy'])} of {row['pool_dev_greedy_n']}, "
            f"sc {cell('pool_dev_sc', row['pool_dev_sc'])} of {row['pool_dev_sc_n']})"
        )
    return "\n".join(lines)


def write_summary(rows: Sequence[dict[str, Any]], out: Path) -> Path:
    """``OUT/summary.json`` (atomic)."""
    path = out / "summary.json"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(list(rows), indent=2) + "\n")
    tmp.replace(path)
    return path


def plot_dev_accuracy(rows: Sequence[dict[str, Any]], path: Path) -> Path | None:
    """Dev greedy and MCTS accuracy by round, and the pools' dev slices' greedy and sc
    (None when no round has a figure yet)."""
    series = {
        key.removeprefix("dev_").replace("_dev_", " dev "): [
            (r["round"], 100 * r[key]) for r in rows if r.get(key) is not None
        ]
        for key in ("dev_greedy", "dev_mcts", "pool_dev_greedy", "pool_dev_sc")
    }
    if not any(series.values()):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for label, points in series.items():
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="o", label=label)
    ax.set_xlabel("round")
    ax.set_ylabel("dev accuracy %")
    ax.set_xticks([r["round"] for r in rows])
    ax.set_title("policy accuracy by self-evolution round")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
