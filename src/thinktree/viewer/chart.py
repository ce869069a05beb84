"""Accuracy against generated tokens per problem, one chart per benchmark, as SVG.

Drawn with matplotlib's object API (a ``Figure`` of its own per request, no
pyplot state, so requests on several threads do not share a figure). Each run
is a numbered point with its 95 % Wilson interval; the page lists the numbers
beside the chart with links to the runs. Text is drawn as paths, so no run's
name reaches the SVG as markup.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from thinktree.viewer.runs import RunSummary


@dataclass(frozen=True)
class ChartPoint:
    number: int
    summary: RunSummary

    @property
    def accuracy(self) -> float:
        assert self.summary.accuracy is not None
        return self.summary.accuracy


def chart_points(summaries: Sequence[RunSummary]) -> dict[str, list[ChartPoint]]:
    """Graded runs that generated tokens, by data set (oldest run first, numbered from 1)."""
    groups: dict[str, list[RunSummary]] = {}
    for s in sorted(summaries, key=lambda s: (s.run.created, s.run.id)):
        if s.accuracy is not None and s.tokens_per_problem > 0:
            groups.setdefault(s.run.dataset, []).append(s)
    return {
        dataset: [ChartPoint(i, s) for i, s in enumerate(runs, start=1)]
        for dataset, runs in sorted(groups.items())
    }


def accuracy_tokens_svg(dataset: str, points: Sequence[ChartPoint]) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.2), dpi=100)
    ax = fig.subplots()
    for point in points:
        s = point.summary
        x = s.tokens_per_problem
        y = 100 * point.accuracy
        lo, hi = s.ci95 or (point.accuracy, point.accuracy)
        ax.errorbar(
            [x], [y], yerr=[[y - 100 * lo], [100 * hi - y]], fmt="o", capsize=4, color="#2166ac"
        )
        ax.annotate(str(point.number), (x, y), textcoords="offset points", xytext=(6, 4))
    ax.set_xscale("log")
    ax.set_ylim(-2, 102)
    ax.set_xlabel("generated tokens per problem (log scale)")
    ax.set_ylabel("accuracy % (95 % Wilson interval)")
    ax.set_title(f"{_plain(dataset)}: accuracy vs. tokens per problem")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


def _plain(text: str) -> str:
    """``text`` with matplotlib's mathtext markers escaped, so it is drawn as written."""
    return text.replace("$", r"\$")
