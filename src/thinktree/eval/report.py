"""Reports comparing runs: a markdown table, pair-wise wins/losses, dominance, a PNG plot.

Compute-matched comparison is the headline: for every pair of runs the report says
whether one dominates the other (as accurate or more for no more generated tokens,
one strictly; :func:`thinktree.eval.metrics.dominance`) and whether the accuracy
difference is beyond noise (sign test, p < 0.05), on the problems both graded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from thinktree.eval.metrics import dominance, pairwise, summarize
from thinktree.search.registry import run_label
from thinktree.store import ResultRow, RunRecord


class ReportConfig(BaseModel):
    """What ``thinktree report`` compares and draws (its options are generated from it)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    plot: str | None = None
    """PNG path for accuracy vs tokens."""
    common: bool = False
    """Only problems every run has."""


@dataclass
class RunReport:
    run: RunRecord
    rows: list[ResultRow]
    summary: dict[str, Any]

    @property
    def label(self) -> str:
        """The model and the run's label (:func:`thinktree.search.registry.run_label`),
        and a rescored run's selection rule where it is not best-of-N's."""
        config = self.run.config
        label = run_label(self.run.strategy, config.get("search", {}), config.get("scorer"))
        select = f" {config['select']}" if "select" in config else ""
        return f"{self.run.model} {label}{select}"


def build_reports(
    runs: Sequence[tuple[RunRecord, list[ResultRow]]], common_only: bool = False
) -> list[RunReport]:
    if common_only and runs:
        common = set.intersection(*({r.problem_id for r in rows} for _, rows in runs))
        runs = [(run, [r for r in rows if r.problem_id in common]) for run, rows in runs]
    reports = []
    for run, rows in runs:
        wall = run.metrics.get("wall_seconds")
        total = run.metrics.get("n") or len(rows)
        share = None if wall is None else float(wall) * len(rows) / max(total, 1)
        reports.append(RunReport(run, rows, summarize(rows, wall_seconds=share)))
    return reports


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def markdown_table(reports: Sequence[RunReport]) -> str:
    lines = [
        "| run | model / strategy | data | n | accuracy % (95 % CI) | pass@k / maj@k % "
        "| tokens/problem | s/problem | prompt cached % |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for rep in reports:
        s = rep.summary
        ci = s["ci95"]
        acc = f"{_pct(s['accuracy'])} ({_pct(ci[0])}–{_pct(ci[1])})" if ci else "n/a"
        ks = sorted(int(key.split("@")[1]) for key in s if key.startswith("pass@"))
        extra = (
            f"{_pct(s[f'pass@{ks[-1]}'])} / {_pct(s[f'maj@{ks[-1]}'])} (k={ks[-1]})" if ks else "–"
        )
        lines.append(
            f"| {rep.run.id} | {rep.label} | {rep.run.dataset} | {s['n']} | {acc} | {extra} | "
            f"{s['tokens_per_problem']:.0f} | {s['seconds_per_problem']:.1f} | "
            f"{_pct(s['cached_share'])} |"
        )
    return "\n".join(lines)


def pairwise_table(reports: Sequence[RunReport]) -> str:
    if len(reports) < 2:
        return ""
    base = reports[0]
    lines = [
        f"Pair-wise against {base.run.id} ({base.label}), on the problems both graded:",
        "",
        "| run | common | won | lost | both right | both wrong | sign test p |",
        "|---|---|---|---|---|---|---|",
    ]
    for rep in reports[1:]:
        p = pairwise(rep.rows, base.rows)
        lines.append(
            f"| {rep.run.id} | {p['common']} | {p['won']} | {p['lost']} | {p['both']} | "
            f"{p['neither']} | {p['sign_test_p']:.3f} |"
        )
    return "\n".join(lines)


def dominance_lines(reports: Sequence[RunReport]) -> str:
    """One line per pair of runs: who dominates whom, or the trade-off between them."""
    if len(reports) < 2:
        return ""
    lines = ["Compute-matched, on the problems both graded (sign test: noise if p >= 0.05):", ""]
    for i, first in enumerate(reports):
        for second in reports[i + 1 :]:
            lines.append("- " + _dominance_line(first, second))
    return "\n".join(lines)


def _dominance_line(a: RunReport, b: RunReport) -> str:
    d = dominance(a.rows, b.rows)
    if not d["common"]:
        return f"{a.run.id} vs {b.run.id}: no problem graded by both."
    noise = "beyond noise" if d["significant"] else "within noise"
    accuracy = (
        f"{_pct(d['accuracy_a'])} % vs {_pct(d['accuracy_b'])} % "
        f"(won {d['won']}, lost {d['lost']}, p = {d['sign_test_p']:.3f}, {noise})"
    )
    tokens = f"{d['tokens_a']:.0f} vs {d['tokens_b']:.0f} tokens/problem"
    names = f"{a.run.id} ({a.label})", f"{b.run.id} ({b.label})"
    if d["dominant"] == "a":
        return f"{names[0]} dominates {names[1]}: {accuracy}, {tokens}."
    if d["dominant"] == "b":
        return f"{names[1]} dominates {names[0]}: {accuracy}, {tokens}."
    if d["won"] == d["lost"] and d["tokens_a"] == d["tokens_b"]:
        return f"{names[0]} and {names[1]} tie: {accuracy}, {tokens}."
    return f"neither of {names[0]} and {names[1]} dominates: {accuracy}, {tokens}."


def plot_accuracy_vs_tokens(
    reports: Sequence[RunReport],
    path: str | Path,
    curves: Sequence[tuple[str, Sequence[tuple[float, float]]]] = (),
) -> Path:
    """One point per run (with its 95 % interval) and optional budget curves, e.g.
    self-consistency's maj@k at k samples' worth of tokens."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for rep in reports:
        s = rep.summary
        if s["accuracy"] is None:
            continue
        lo, hi = s["ci95"]
        x = s["tokens_per_problem"]
        y = 100 * s["accuracy"]
        ax.errorbar(
            [x],
            [y],
            yerr=[[y - 100 * lo], [100 * hi - y]],
            fmt="o",
            capsize=4,
            label=f"{rep.label} (n={s['graded']})",
        )
    for label, points in curves:
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, [100 * y for y in ys], "--", marker=".", alpha=0.7, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("generated tokens per problem (log scale)")
    ax.set_ylabel("accuracy % (95 % Wilson interval)")
    ax.set_title("accuracy vs. tokens per problem")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
