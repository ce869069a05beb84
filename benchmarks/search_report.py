"""Issue 5 figures from the stored runs: benchmarks/results/search.json and a plot.

    .venv/bin/python benchmarks/search_report.py [--store benchmarks/runs.db]

Reads the runs made by benchmarks/run_search.sh (and the baseline's greedy 1.5B
run, restricted to the same 50 problems), computes accuracy, tokens and seconds
per problem, accuracy at matched token budgets (self-consistency's maj@k curve
against MCTS), pair-wise wins and losses, and the share of MCTS prompt tokens
reused from the prefix cache once the constant few-shot header is left out. For
MCTS runs, beside the best-mean-value answer: the Q-weighted vote's accuracy and
the share of trees holding a correct terminal answer (``tree_pass``), how many
trees ran out of open nodes before their last rollout, and how many expansions
kept a single child once duplicate candidate steps were removed.
Nothing is re-run: metrics come from stored results.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from report_common import complete_runs, run_entry, scorer_of, tree_pass
from thinktree.eval.metrics import majority_correct, pairwise, vote_correct
from thinktree.eval.report import RunReport, plot_accuracy_vs_tokens
from thinktree.store import RunStore

ROOT = Path(__file__).resolve().parents[1]


def header_tokens(model: str) -> int:
    """Tokens of the constant few-shot header (chat template, instruction, examples)."""
    from thinktree.engines.llamacpp import LlamaCppEngine, LlamaCppOptions
    from thinktree.models import resolve_model
    from thinktree.steps import user_message

    resolved = resolve_model(model)
    with LlamaCppEngine(resolved.path, LlamaCppOptions(n_parallel=1, ctx_per_slot=2048)) as e:
        rendered = e.render_chat([{"role": "user", "content": user_message("QUESTION")}])
        return e.count_tokens(rendered.split("Question: QUESTION")[0] + "Question:")


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", default=str(ROOT / "benchmarks" / "runs.db"))
    args = parser.parse_args()
    store = RunStore(args.store, create=False)
    reports = complete_runs(store, lambda run: scorer_of(run) == "none")
    entries = [run_entry(rep) for rep in reports]
    for entry, rep in zip(entries, reports, strict=True):
        if rep.run.strategy == "mcts":  # the answer rule's alternatives, from the same trees
            n = len(rep.rows)
            entry["q_vote_accuracy"] = sum(vote_correct(r.votes, r.samples) for r in rep.rows) / n
            entry["tree_pass"] = tree_pass(rep.rows)
            entry["exhausted_trees"] = sum(r.stop_reason == "exhausted" for r in rep.rows)
            problem_ids = [r.problem_id for r in rep.rows]
            entry.update(expansion_counts(store, rep.run.id, problem_ids))

    # Matched budgets: sc's maj@k at k samples costs k/N of its tokens.
    budgets = []
    for rep in reports:
        if rep.run.strategy != "sc":
            continue
        n = rep.run.config["search"]["samples"]
        for k in range(1, n + 1):
            acc = sum(majority_correct(r.samples["classes"], r.samples["class_correct"], k)
                      for r in rep.rows) / len(rep.rows)  # fmt: skip
            budgets.append({"model": rep.run.model, "strategy": f"sc maj@{k} (of {n})",
                            "tokens_per_problem": rep.summary["tokens_per_problem"] * k / n,
                            "accuracy": acc})  # fmt: skip

    pairs = []
    by_model: dict[str, list[RunReport]] = {}
    for rep in reports:
        by_model.setdefault(rep.run.model, []).append(rep)
    for model, reps in by_model.items():
        for a in reps:
            for b in reps:
                if a.run.id < b.run.id:
                    p = pairwise(a.rows, b.rows)
                    pairs.append({"model": model, "a": a.label, "b": b.label, **p})

    reuse = {}
    for model, reps in by_model.items():
        mcts = [r for r in reps if r.run.strategy == "mcts"]
        if not mcts:
            continue
        h = header_tokens(model)
        evaluated = cached = requests = 0
        prompt_seconds = engine_seconds = 0.0
        for rep in mcts:
            for row in rep.rows:
                usage = row.extra["usage"]
                evaluated += usage["request_prompt_tokens"]
                cached += usage["request_cached_tokens"]
                requests += usage["engine_calls"]
                prompt_seconds += usage["prompt_seconds"]
                engine_seconds += usage["engine_seconds"]
        total = evaluated + cached
        reuse[model] = {
            "header_tokens": h, "requests": requests,
            "prompt_tokens": total, "cached_tokens": cached,
            "reuse_with_header": cached / total,
            "reuse_without_header": (cached - requests * h) / (total - requests * h),
            "prompt_seconds_per_engine_second": prompt_seconds / engine_seconds,
        }  # fmt: skip

    out = {
        "runs": entries,
        "matched_budgets": budgets,
        "pairwise": pairs,
        "prefix_reuse_detail": reuse,
        "prefix_reuse": min((v["reuse_without_header"] for v in reuse.values()), default=None),
    }
    results = ROOT / "benchmarks" / "results"
    previous = results / "search.json"
    if previous.exists():  # keep the timing figures written by search_batch_bench.py
        old = json.loads(previous.read_text())
        for key in ("batch_speedup", "batching"):
            if key in old:
                out[key] = old[key]
    previous.write_text(json.dumps(out, indent=2) + "\n")
    curves: dict[str, list[tuple[float, float]]] = {}
    for point in budgets:
        name = (
            f"{point['model']} sc maj@k ({point['strategy'].split('(of ')[1].rstrip(')')} samples)"
        )
        curves.setdefault(name, []).append((point["tokens_per_problem"], point["accuracy"]))
    plot_accuracy_vs_tokens(
        reports, results / "search_accuracy_vs_tokens.png", curves=list(curves.items())
    )
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
