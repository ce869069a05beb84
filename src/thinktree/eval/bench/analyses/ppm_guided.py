"""Issue 6's PPM-guided runs next to their unguided twins (``analyses: [ppm_guided]``).

Guided runs are the store's runs on the report's problems whose scorer is a PPM:
``mcts`` made with ``scorer: ppm:DIR`` and ``best_of_n`` made by rescoring an sc
run (a recipe run's ``rescore``). The twin of a guided mcts run is the recipe's run
with the same model, rollouts and k and no scorer; the twin of a rescored run is the
sc run it drew its samples from. ``score_share`` is the PPM's scoring time over the
policy's expansion (engine) time, summed over the guided mcts runs, per policy and
in all. For mcts pairs, ``tree_shape`` says how the trees differ: nodes, expanded
nodes, mean node depth and terminal reasons, per problem. The figures are for the
PPM in the report's ``options.ppm`` (default benchmarks/ppm/default), told apart by
the hash runs record as their scorer; guided runs of earlier PPMs go under
``earlier_ppms``. A guided run still growing is reported with its ``n`` and compared
with its twin on the problems it holds.
"""

from __future__ import annotations

from typing import Any

from thinktree.eval.bench.context import ReportContext, run_entry, scorer_of
from thinktree.eval.metrics import pairwise
from thinktree.eval.report import RunReport, build_reports
from thinktree.search.mcts.search import MCTSSearch
from thinktree.search.registry import is_strategy, strategy_name
from thinktree.search.sampling import BestOfNSearch
from thinktree.store import RunStore

MODELS = ("qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct")
GUIDED = (BestOfNSearch, MCTSSearch)
EXPECTED = [(model, strategy_name(strategy)) for model in MODELS for strategy in GUIDED]


def twin_of(guided: RunReport, unguided: list[RunReport]) -> RunReport | None:
    run = guided.run
    source = run.config.get("rescored_from")
    if source is not None:
        return next((rep for rep in unguided if rep.run.id == source), None)
    search = run.config["search"]

    def same_search(rep: RunReport) -> bool:
        other = rep.run.config["search"]
        return (
            rep.run.model == run.model
            and rep.run.strategy == run.strategy
            and other.get("samples") == search.get("samples")
            and other.get("k") == search.get("k")
        )

    return next((rep for rep in unguided if same_search(rep)), None)


def tree_shape(store: RunStore, run_id: str, problem_ids: list[str]) -> dict[str, object]:
    """Per-problem means over the stored trees of ``problem_ids``."""
    nodes = expanded = depth_sum = 0
    reasons: dict[str, int] = {}
    for problem_id in problem_ids:
        tree = store.tree(run_id, problem_id) or {"nodes": []}
        for node in tree["nodes"]:
            nodes += 1
            expanded += node["expanded"]
            depth_sum += node["depth"]
            if node["terminal"]:
                reason = node["terminal_reason"] or "unknown"
                reasons[reason] = reasons.get(reason, 0) + 1
    n = len(problem_ids) or 1
    return {
        "problems": len(problem_ids),
        "nodes": nodes / n,
        "expanded": expanded / n,
        "mean_depth": depth_sum / nodes if nodes else None,
        "terminals": {reason: count / n for reason, count in sorted(reasons.items())},
    }


def status(guided: list[RunReport], size: int) -> str:
    """Which of the issue's four guided runs (two policies × best_of_n, mcts) are whole."""
    held = {(rep.run.model, rep.run.strategy): rep.summary["n"] for rep in guided}
    missing = [f"{m} {s}: {held.get((m, s), 0)}/{size}" for m, s in EXPECTED
               if held.get((m, s), 0) < size]  # fmt: skip
    return "complete" if not missing else "guided runs incomplete: " + ", ".join(missing)


def expansion_and_score_seconds(runs: list[RunReport]) -> dict[str, list[float]]:
    """Per policy model: [PPM scoring seconds, engine expansion seconds] over ``runs``."""
    seconds: dict[str, list[float]] = {}
    for rep in runs:
        spent = seconds.setdefault(rep.run.model, [0.0, 0.0])
        for row in rep.rows:
            spent[0] += row.extra["usage"]["score_seconds"]
            spent[1] += row.extra["usage"]["engine_seconds"]
    return seconds


def compare(
    store: RunStore, guided: list[RunReport], unguided: list[RunReport]
) -> dict[str, list[dict[str, Any]]]:
    """Entries for the guided runs and their twins, and each pair's comparison."""
    entries: dict[str, dict[str, Any]] = {}
    comparisons = []
    for rep in guided:
        twin = twin_of(rep, unguided)
        entries[rep.run.id] = run_entry(rep)
        if twin is None:
            continue
        entries[twin.run.id] = run_entry(twin)
        comparison = {
            "model": rep.run.model,
            "guided": rep.label,
            "guided_run": rep.run.id,
            "unguided": twin.label,
            "unguided_run": twin.run.id,
            **pairwise(rep.rows, twin.rows),
        }  # pairwise: common problems only
        if is_strategy(rep.run.strategy, MCTSSearch):
            common = sorted({r.problem_id for r in rep.rows} & {r.problem_id for r in twin.rows})
            comparison["tree_shape"] = {
                "guided": tree_shape(store, rep.run.id, common),
                "unguided": tree_shape(store, twin.run.id, common),
            }
        comparisons.append(comparison)
    return {"runs": list(entries.values()), "comparisons": comparisons}


def guided_runs(ctx: ReportContext) -> list[RunReport]:
    """Every stored run scored by a PPM on the problems the report's runs hold (those
    still growing included), cut to those problems."""
    wanted = {row.problem_id for rep in ctx.reports for row in rep.rows}
    chosen = []
    for run in ctx.store.list_runs():
        if scorer_of(run).startswith("ppm"):
            rows = [r for r in ctx.store.results(run.id) if r.problem_id in wanted]
            if rows:
                chosen.append((run, rows))
    return build_reports(chosen)


def ppm_guided(ctx: ReportContext) -> dict[str, Any]:
    from thinktree.reward.ppm import ppm_identity

    current = ppm_identity(ctx.option("ppm", "benchmarks/ppm/default"))
    every = guided_runs(ctx)
    guided = [rep for rep in every if scorer_of(rep.run) == current]
    earlier = [rep for rep in every if scorer_of(rep.run) != current]
    unguided: list[RunReport] = [rep for rep in ctx.reports if scorer_of(rep.run) == "none"]
    now = compare(ctx.store, guided, unguided)
    # Scoring cost is the PPM's; an earlier PPM's guided MCTS stands in until the
    # current one has its own (both read handcrafted features the search has).
    timed = [rep for rep in guided if is_strategy(rep.run.strategy, MCTSSearch)] or [
        rep for rep in earlier if is_strategy(rep.run.strategy, MCTSSearch)
    ]
    seconds = expansion_and_score_seconds(timed)
    score = sum(s for s, _ in seconds.values())
    engine = sum(e for _, e in seconds.values())
    size = max((len(rep.rows) for rep in ctx.reports), default=0)
    return {
        "ppm": current,
        "status": status(guided, size),
        "runs": now["runs"],
        "guided_vs_unguided": now["comparisons"],
        "earlier_ppms": compare(ctx.store, earlier, unguided),
        "score_share": score / engine if engine else None,
        "score_share_runs": [rep.run.id for rep in timed],
        "score_share_by_model": {model: s / e for model, (s, e) in seconds.items() if e},
        "score_seconds": score,
        "expansion_seconds": engine,
    }
