"""Issue 5's analyses of sc and mcts runs (``analyses: [issue5]``).

``matched_budgets``: each sc run's maj@k at k of its N samples, priced at k/N of
its tokens (self-consistency's curve to set mcts against at equal tokens). For
each mcts run, beside its best-mean-value answer (``mcts_answer_rules``): the
Q-weighted vote's accuracy, the share of trees holding a right terminal answer
(``tree_pass``), the trees that ran out of open nodes before their last rollout,
and the expansions left with one distinct child. (The prefix-reuse figures of
issue 5 need the model's tokenizer to count the few-shot header, so no report
computes them without a model: search.json keeps them as measured.)
"""

from __future__ import annotations

from typing import Any

from thinktree.eval.bench.analyses.search18.runs import tree_pass
from thinktree.eval.bench.context import ReportContext
from thinktree.eval.metrics import majority_correct, vote_correct
from thinktree.eval.report import RunReport
from thinktree.search.mcts.search import MCTSSearch
from thinktree.search.registry import is_strategy
from thinktree.search.sampling import SelfConsistencySearch
from thinktree.store import RunStore


def expansion_counts(store: RunStore, run_id: str, problem_ids: list[str]) -> dict[str, int]:
    """Expanded nodes over the stored trees, and those left with one distinct child."""
    expansions = single_child = 0
    for problem_id in problem_ids:
        nodes = (store.tree(run_id, problem_id) or {"nodes": []})["nodes"]
        children: dict[int, int] = {}
        for node in nodes:
            if node["parent"] is not None:
                children[node["parent"]] = children.get(node["parent"], 0) + 1
        for node in nodes:
            if node["expanded"]:
                expansions += 1
                single_child += children.get(node["id"], 0) == 1
    return {"expansions": expansions, "single_child_expansions": single_child}


def mcts_answer_rules(store: RunStore, rep: RunReport) -> dict[str, Any]:
    n = len(rep.rows)
    return {
        "run_id": rep.run.id,
        "q_vote_accuracy": sum(vote_correct(r.votes, r.samples) for r in rep.rows) / n,
        "tree_pass": tree_pass(rep.rows),
        "exhausted_trees": sum(r.stop_reason == "exhausted" for r in rep.rows),
        **expansion_counts(store, rep.run.id, [r.problem_id for r in rep.rows]),
    }


def matched_budgets(rep: RunReport) -> list[dict[str, Any]]:
    n = rep.run.config["search"]["samples"]
    return [
        {"model": rep.run.model, "strategy": f"sc maj@{k} (of {n})",
         "tokens_per_problem": rep.summary["tokens_per_problem"] * k / n,
         "accuracy": sum(majority_correct(r.samples["classes"], r.samples["class_correct"], k)
                         for r in rep.rows) / len(rep.rows)}
        for k in range(1, n + 1)
    ]  # fmt: skip


def issue5(ctx: ReportContext) -> dict[str, Any]:
    """``matched_budgets`` of the report's full sc runs; each mcts run's answer-rule
    figures merged into its ``runs`` entry."""
    full_sc = [r for r in ctx.reports if is_strategy(r.run.strategy, SelfConsistencySearch)
               and r.run.config["search"].get("settle", "off") == "off"]  # fmt: skip
    mcts = [r for r in ctx.reports if is_strategy(r.run.strategy, MCTSSearch)]
    return {
        "runs": [mcts_answer_rules(ctx.store, rep) for rep in mcts],
        "matched_budgets": [point for rep in full_sc for point in matched_budgets(rep)],
    }
