"""Issue 18's analyses of the search runs (``analyses: [search18]``): each run's kind,
setting and figures beside its summary entry, and search.json's ``issue18`` part.

Tuning: every run on the 20-problem gsm8k train slice (offset 7000), one row per
setting of the exploration fields, each compared pair-wise with the old settings.
Test: every recipe run on gsm8k test[:50], both models, entered in ``runs`` with
its ``kind`` (:func:`.kinds.kind`), ``"default": true`` (mcts made with the current
SearchConfig defaults) or ``"adaptive": true`` (settle on), and compared pair-wise
(sign test) and by tokens: default mcts against old mcts, sc@4 and greedy; adaptive
sc against sc@4; adaptive mcts against default mcts (today's default with a
confident first rollout also against sc@4 and confident sc). Adaptive runs also say
how much of the budget each problem used and how many stopped because their answers
settled. ``settle = "confident"``'s threshold is scanned by replaying each slice
sc@4 run's own samples through the library's settle rules (``confident_scan``);
each test sc@4 run gets the same replay at the default threshold
(``confident_replay``); ``confidence_measures``, ``adaptive_bounds``,
``unsure_limit`` and ``step_floor`` are chosen on train and replayed on test
(:mod:`.thresholds`). ``first_steps`` sorts each full sc run's samples by how their
first step ended. Seeds: where a kind of run exists on a model with more than one
seed, each seed's figures, the comparisons over every (problem, seed) pair, and
each kind's runs against each other, seed by seed (:func:`.pooled.seeds`).
``rollout_votes`` says what each rollout or sample gave the vote. Every sc and mcts
run also gets its vote's ties broken by confidence (``confidence_tie_break``). Runs
made with the cell prelude are paired with their seed's runs without it
(``prelude``), and ``prelude_rule`` applies the rule that decides its default.
Train runs (the slice and the scan) are read from the store, which the recipe's
exports fill. Nothing is re-run: every figure comes from stored results.
"""

from __future__ import annotations

from typing import Any

from thinktree.eval.bench.analyses.search18 import kinds
from thinktree.eval.bench.analyses.search18.pooled import (
    prelude_pairs,
    prelude_rule,
    seeds,
    slice_comparisons,
    tune_rows,
)
from thinktree.eval.bench.analyses.search18.replay import replay_confident
from thinktree.eval.bench.analyses.search18.runs import (
    answers_found,
    budget_used,
    confidence_tie_break,
    crashing_branches,
    first_steps,
    first_two_agree,
    lost_to,
    rollout_votes,
    same_answers,
    stopped_after_one,
    tree_nodes,
    tree_pass,
)
from thinktree.eval.bench.analyses.search18.thresholds import (
    SCAN_IDS,
    adaptive_bounds,
    confidence_measures,
    confident_scan,
    scan_rows,
    step_floor,
    threshold_choice,
    unsure_limit,
)
from thinktree.eval.bench.context import ReportContext, run_entry
from thinktree.eval.report import RunReport
from thinktree.search.config import SearchConfig


def run_details(
    rep: RunReport, reports: list[RunReport], nodes: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    """One test run's entry: its summary, kind and setting, and the figures its kind has."""
    entry = {**run_entry(rep), "kind": kinds.kind(rep.run), "setting": kinds.setting(rep.run)}
    if kinds.seed_of(rep.run):
        entry["seed"] = kinds.seed_of(rep.run)
    # Problems whose tree (mcts) or samples (sc) hold a right answer anywhere.
    entry["right_answer_found"] = round(tree_pass(rep.rows) * len(rep.rows))
    if entry["kind"] == f"{kinds.MCTS}-default":
        entry["default"] = True
    full = next((r for r in reports if kinds.kind(r.run) == kinds.SC
                 and r.run.model == rep.run.model
                 and kinds.seed_of(r.run) == kinds.seed_of(rep.run)), None)  # fmt: skip
    compared = (f"{kinds.MCTS}-default", f"{kinds.MCTS}-previous", f"{kinds.MCTS}-previous-k4")
    if entry["kind"] in compared and full is not None:
        entry["lost_to_sc"] = lost_to(rep, full)
    if kinds.is_adaptive(rep.run):
        entry["adaptive"] = True
        entry["budget_used"] = budget_used(rep)
        if kinds.is_sc(rep.run) and full is not None:
            entry["same_answers_as_sc"] = {"run_id": full.run.id,
                                           "problems": same_answers(rep, full)}  # fmt: skip
        # Every adaptive sc run says it (none stop after one but confident ones); mcts under
        # confident, the one rule that can stop a tree after its first rollout.
        single_stops = kinds.is_sc(rep.run) or kinds.search_of(rep.run)["settle"] == "confident"
        if single_stops and full is not None:
            entry["stopped_after_one"] = stopped_after_one(rep, full)
        if kinds.search_of(rep.run)["step_floor"] is not None:
            entry["dropped_samples"] = sum(int(r.extra.get("dropped", 0)) for r in rep.rows)
    elif entry["kind"] in (kinds.SC, f"{kinds.SC}-prelude"):
        entry["first_two_agree"] = first_two_agree(rep)
        entry["first_steps"] = first_steps(rep)
        entry["confident_replay"] = replay_confident(
            rep.rows, SearchConfig().settle_token_probability
        )
    voted = kinds.is_sc(rep.run) or kinds.is_mcts(rep.run)
    if voted and not kinds.is_adaptive(rep.run):
        entry["rollout_votes"] = rollout_votes(rep, nodes)
    if voted:
        entry["answers_found"] = answers_found(rep)
        entry["confidence_tie_break"] = confidence_tie_break(rep)
    if kinds.is_mcts(rep.run) and entry["kind"] != f"{kinds.MCTS}-old":
        entry["crashing_branches"] = crashing_branches(rep, nodes)
    return entry


def issue18(ctx: ReportContext) -> dict[str, Any]:
    """``runs`` (each test run's :func:`run_details`) and ``issue18``; the report's
    runs are the recipe's unscored runs on gsm8k:test (its slice: test[:50])."""
    store = ctx.store
    reports: list[RunReport] = [
        kinds.KindReport(rep.run, rep.rows, rep.summary)
        for rep in ctx.reports
        if rep.run.dataset == "gsm8k:test" and rep.run.config.get("scorer") in (None, "none")
    ]
    # Every mcts run's tree nodes, read once for every figure of them.
    trees = {rep.run.id: tree_nodes(store, rep) for rep in reports if kinds.is_mcts(rep.run)}
    entries = [run_details(rep, reports, trees.get(rep.run.id, {})) for rep in reports]
    scan_by_model = scan_rows(store)
    train_rows = scan_by_model.get(kinds.DEFAULT_MODEL, [])
    threshold = SearchConfig().settle_token_probability
    whole_scan = len(train_rows) == len(SCAN_IDS)
    unsure = unsure_limit(train_rows, threshold) if whole_scan else None
    floor = step_floor(train_rows, threshold, reports) if whole_scan else None
    size = len(reports[0].rows) if reports else 0
    part: dict[str, Any] = {
        "slice": f"gsm8k test[:{size}], seed 0",
        "defaults": kinds.default_setting(),
        "old": kinds.OLD_SETTING,
        "tune": tune_rows(store),
        "confident_scan": confident_scan(store),
        "confident_threshold": threshold_choice(scan_by_model),
        "confidence_measures": confidence_measures(scan_by_model, reports),
        "unsure_limit": unsure,
        "adaptive_bounds": adaptive_bounds(scan_by_model, reports, unsure and unsure["chosen"]),
        "step_floor": floor,
        "comparisons": slice_comparisons(reports),
        "seeds": seeds(reports, trees),
        "prelude": prelude_pairs(reports, trees),
    }
    part["prelude_rule"] = prelude_rule(part["prelude"])
    return {"runs": entries, "issue18": part}
