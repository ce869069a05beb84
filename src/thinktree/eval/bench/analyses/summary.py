"""The summary every recipe lists (``analyses: [summary]``).

Each run gets its entry (accuracy with its 95 % Wilson interval, tokens and seconds
per problem) and, per *arm* (the runs of one name and model pooled over their
seeds: a problem solved under seed 1 and under seed 2 counts as two (problem, seed)
pairs), the same figures pooled; every pair of arms of a model is compared on the
pairs both hold: problems won and lost, the two-sided exact sign test p, and which
one dominates (:func:`thinktree.eval.metrics.dominance`). ``by_arm`` writes each
run's figures under its arm's name instead (one key a slice, as baseline.json has).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

from thinktree.eval.bench.context import ArmReport, ReportContext, run_entry, seeded_rows
from thinktree.eval.metrics import dominance, summarize
from thinktree.eval.report import plot_accuracy_vs_tokens


def pooled_arms(reports: Sequence[ArmReport]) -> list[ArmReport]:
    """One report per (model, arm): its runs' rows over every seed, its wall time the
    sum of theirs."""
    groups: dict[tuple[str, str], list[ArmReport]] = {}
    for rep in reports:
        groups.setdefault((rep.run.model, rep.arm), []).append(rep)
    out = []
    for (_, arm), reps in groups.items():
        rows = [row for rep in reps for row in seeded_rows(rep.rows, rep.seeds[0])]
        walls = [rep.summary.get("wall_seconds") for rep in reps]
        wall = None if None in walls else sum(w or 0.0 for w in walls)
        seeds = sorted(seed for rep in reps for seed in rep.seeds)
        out.append(ArmReport(reps[0].run, rows, summarize(rows, wall_seconds=wall), arm, seeds))
    return out


def arm_entry(arm: ArmReport) -> dict[str, Any]:
    s = arm.summary
    return {
        "model": arm.run.model, "arm": arm.arm, "seeds": arm.seeds, "n": s["n"],
        "correct": s["correct"], "accuracy": s["accuracy"], "ci95": s["ci95"],
        "tokens_per_problem": s["tokens_per_problem"],
        "seconds_per_problem": s["seconds_per_problem"],
    }  # fmt: skip


def arm_pairs(
    arms: Sequence[ArmReport], wanted: Sequence[tuple[str, str]] | None
) -> list[dict[str, Any]]:
    """Arms of one model compared on the (problem, seed) pairs both hold: ``wanted``
    (arm names) or every pair in recipe order."""
    out = []
    for model in dict.fromkeys(arm.run.model for arm in arms):
        by_name = {arm.arm: arm for arm in arms if arm.run.model == model}
        names = wanted if wanted is not None else list(combinations(by_name, 2))
        for a, b in names:
            if a in by_name and b in by_name:
                d = dominance(by_name[a].rows, by_name[b].rows)
                out.append({"model": model, "a": a, "b": b, **d})
    return out


def summary(ctx: ReportContext) -> dict[str, Any]:
    """Every run's entry (``runs``) and the arms pooled over seeds with their pairs
    (``summary``); the plot of the arms where the report names one."""
    arms = pooled_arms(ctx.reports)
    if ctx.spec.plot is not None:
        plot_accuracy_vs_tokens(arms, ctx.spec.plot)
    return {
        "runs": [run_entry(rep) for rep in ctx.reports],
        "summary": {
            "arms": [arm_entry(arm) for arm in arms],
            "pairs": arm_pairs(arms, ctx.spec.pairs),
        },
    }


def by_arm(ctx: ReportContext) -> dict[str, Any]:
    """Each run's figures under its arm's name (baseline.json's shape: one key a slice)."""
    return {
        rep.arm: {
            "run_id": rep.run.id,
            "n": rep.summary["n"],
            "accuracy": rep.summary["accuracy"],
            "ci95": rep.summary["ci95"],
            "answered": rep.summary["answered"],
            "tokens_per_problem": rep.summary["tokens_per_problem"],
            "seconds_per_problem": rep.summary["seconds_per_problem"],
            "cached_share": rep.summary["cached_share"],
        }
        for rep in ctx.reports
    }
