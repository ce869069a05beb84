"""Thresholds chosen on gsm8k train[7000:7100]'s stored sc@4 samples and replayed
on test's: the confident rule's trust threshold, other confidence measures, the
unsure give-up limit, the step floor, and what an oracle stopping rule would spend.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from thinktree.eval.bench.analyses.search18.kinds import (
    DEFAULT_MODEL,
    SC,
    is_sc,
    kind,
    problem_index,
    search_of,
    seed_of,
)
from thinktree.eval.bench.analyses.search18.replay import (
    CONFIDENCE_MEASURES,
    GIVE_UP_RULES,
    GiveUp,
    first_sample_right,
    first_sample_steps,
    first_unsure,
    oracle_stop,
    replay_confident,
    sample_labels,
    tokens_of_first,
)
from thinktree.eval.report import RunReport
from thinktree.search.base import ProblemSearch
from thinktree.search.config import SearchConfig
from thinktree.search.registry import is_strategy
from thinktree.search.sampling import SelfConsistencySearch
from thinktree.search.settle import token_probability
from thinktree.store import ResultRow, RunRecord, RunStore

TUNE_IDS = {f"gsm8k/train/{i}" for i in range(7000, 7020)}
CONFIDENT_SCAN = (0.85, 0.86, 0.87, 0.88, 0.89, 0.9, 0.92)
# The slice and the 80 problems after it, where the confident threshold is chosen.
SCAN_IDS = {f"gsm8k/train/{i}" for i in range(7000, 7100)}
THRESHOLDS = tuple(round(0.70 + i / 100, 2) for i in range(26))
# The confidence measures' scan reaches lower: a step's probability runs below the mean's.
MEASURE_THRESHOLDS = tuple(round(0.50 + i / 100, 2) for i in range(50))


def slice_runs(
    store: RunStore, strategies: tuple[type[ProblemSearch], ...]
) -> list[tuple[RunRecord, list[ResultRow]]]:
    """Every run of ``strategies`` holding the whole tuning slice, with its slice rows."""
    chosen = []
    for run in store.list_runs():
        of_them = any(is_strategy(run.strategy, strategy) for strategy in strategies)
        if run.dataset != "gsm8k:train" or not of_them:
            continue
        rows = [r for r in store.results(run.id) if r.problem_id in TUNE_IDS]
        if len(rows) == len(TUNE_IDS):
            chosen.append((run, rows))
    return chosen


def confident_scan(store: RunStore) -> list[dict[str, Any]]:
    """The threshold scan on each model's slice sc@4 run (how the default was chosen)."""
    out = []
    for run, rows in slice_runs(store, (SelfConsistencySearch,)):
        if search_of(run)["settle"] != "off":
            continue
        scan = [replay_confident(rows, p) for p in CONFIDENT_SCAN]
        out.append({"run_id": run.id, "model": run.model, "scan": scan})
    return out


def scan_rows(store: RunStore) -> dict[str, list[ResultRow]]:
    """Each model's stored sc@4 samples on train[7000:7100] (seed 0, no settling; the
    slice's run and the scan's, pooled by problem), in problem order."""
    pooled: dict[str, dict[str, ResultRow]] = {}
    for run in store.list_runs():
        search = search_of(run)
        if (run.dataset != "gsm8k:train" or not is_sc(run) or search["settle"] != "off"
                or search["samples"] != 4 or seed_of(run) != 0):  # fmt: skip
            continue
        by_problem = pooled.setdefault(run.model, {})
        for row in store.results(run.id):
            if row.problem_id in SCAN_IDS:
                by_problem.setdefault(row.problem_id, row)
    return {
        model: [by_problem[p] for p in sorted(by_problem, key=problem_index)]
        for model, by_problem in sorted(pooled.items())
    }


def last_within_two(replays: Iterable[dict[str, Any]], key: str) -> float | None:
    """Walking ``replays`` in order, the ``key`` of the last one before the first that
    loses more than two of the full vote's right answers (None if the first does)."""
    chosen = None
    for replay in replays:
        if replay["right"] < replay["full_vote_right"] - 2:
            break
        chosen = replay[key]
    return chosen


def chosen_threshold(scan: list[dict[str, Any]]) -> float | None:
    """threshold_choice's rule over a scan in rising thresholds: the lowest at which it
    and every higher one keep the full vote's right answers within two problems."""
    return last_within_two(reversed(scan), "token_probability")


def threshold_choice(scan_by_model: dict[str, list[ResultRow]]) -> list[dict[str, Any]]:
    """The confident threshold chosen on train[7000:7100] (the search recipe's scan run).

    Each model's stored sc@4 samples there (seed 0, no settling; the slice's run and the
    scan's, pooled by problem) are replayed at every threshold of THRESHOLDS. The rule,
    fixed before the scan's 80 problems were drawn: the lowest threshold at which this
    and every higher threshold keep the full vote's right answers within two problems
    (one in 50, the issue's "within one problem" on test[:50]). Nothing on test takes
    part in the choice.
    """
    out = []
    for model, rows in scan_by_model.items():
        scan = [replay_confident(rows, t) for t in THRESHOLDS]
        chosen = chosen_threshold(scan) if len(rows) == len(SCAN_IDS) else None
        out.append({"model": model, "n": len(rows), "chosen": chosen, "scan": scan})
    return out


def confidence_measures(
    scan_by_model: dict[str, list[ResultRow]], reports: list[RunReport]
) -> list[dict[str, Any]]:
    """Other first-sample confidences than the geometric mean (CONFIDENCE_MEASURES), each
    given its threshold by threshold_choice's rule on the 1.5B's train[7000:7100], then
    replayed on every test sc@4 run's own samples (both models, every seed): whether
    any of them reaches the adaptive target (within one problem of sc@4 at no more than
    60 % of its tokens) on samples the choice never saw."""
    rows = scan_by_model.get(DEFAULT_MODEL, [])
    if len(rows) != len(SCAN_IDS):
        return []
    full = [rep for rep in reports if kind(rep.run) == SC]
    out = []
    for measure in CONFIDENCE_MEASURES:
        scan = [replay_confident(rows, t, measure) for t in MEASURE_THRESHOLDS]
        threshold = chosen_threshold(scan)
        entry: dict[str, Any] = {"measure": measure, "threshold": threshold}
        if threshold is not None:
            entry["train"] = next(r for r in scan if r["token_probability"] == threshold)
            entry["test"] = [
                {"run_id": rep.run.id, "model": rep.run.model, "seed": seed_of(rep.run),
                 **replay_confident(rep.rows, threshold, measure)}
                for rep in full
            ]  # fmt: skip
        out.append(entry)
    return out


def unsure_limit(rows: list[ResultRow], threshold: float) -> dict[str, Any]:
    """first_unsure's limit, chosen on the 1.5B's train[7000:7100] as threshold_choice
    chooses the trust threshold, turned round: the confident rule at ``threshold`` with
    the give-up is replayed at every limit of MEASURE_THRESHOLDS below it, and the limit
    is the highest at which it and every lower one keep the full vote's right answers
    within two problems. (Chosen on 2026-12-03 after test's samples had been replayed at
    a few limits by hand, none of which met the target: the choice can only flatter it.)"""
    limits = [limit for limit in MEASURE_THRESHOLDS if limit < threshold]
    scan = [{"limit": limit, **replay_confident(rows, threshold, give_up=first_unsure(limit))}
            for limit in limits]  # fmt: skip
    return {"token_probability": threshold, "chosen": last_within_two(scan, "limit"),
            "n": len(rows), "scan": scan}  # fmt: skip


def step_floor(rows: list[ResultRow], threshold: float, reports: list[RunReport]) -> dict[str, Any]:
    """The confident rule at ``threshold`` with every sample dropped at its first unsure
    step (:func:`cut_at_unsure_step`), its floor chosen on the 1.5B's train[7000:7100]
    as unsure_limit's is (the highest at which it and every lower one keep the full
    vote's right answers within two problems), then replayed on every test sc@4 run:
    what cutting samples short adds to stopping problems early. (Looked at first on the
    1.5B's train and test samples at a few floors, 2026-12-04, after the adaptive target
    had been missed: the choice can only flatter it.)"""
    scan = [{"floor": floor, **replay_confident(rows, threshold, step_floor=floor)}
            for floor in MEASURE_THRESHOLDS]  # fmt: skip
    chosen = last_within_two(scan, "floor")
    test = [] if chosen is None else [
        {"run_id": rep.run.id, "model": rep.run.model, "seed": seed_of(rep.run),
         "without": replay_confident(rep.rows, threshold)["token_share"],
         **replay_confident(rep.rows, threshold, step_floor=chosen)}
        for rep in reports if kind(rep.run) == SC
    ]  # fmt: skip
    return {"token_probability": threshold, "chosen": chosen, "n": len(rows),
            "scan": scan, "test": test}  # fmt: skip


def adaptive_bound(
    rows: list[ResultRow], threshold: float, give_up: dict[str, GiveUp]
) -> dict[str, Any]:
    """How far a stopping rule could go on the rows' own sc samples: the share of their
    tokens an oracle spends (:func:`oracle_stop`, which keeps every right vote); the
    confident rule with a first-sample signal that never errs (``perfect_trust``: it
    stops after one sample exactly where that sample is right, and otherwise waits
    for a decided vote as the rule does); the problems whose first sample is right, and
    how many first samples the mean token probability trusts at ``threshold``, and how
    many of those are right: a first-sample signal's recall and precision; and the
    confident rule at ``threshold`` with each rule of ``give_up``."""
    spent = 0.0
    first_right = trusted = trusted_right = 0
    for row in rows:
        correct = [bool(c) for c in row.samples.get("correct") or []]
        labels = sample_labels(row)
        if not labels:
            continue
        spent += tokens_of_first(row, oracle_stop(labels, correct))
        first_right += correct[0] and labels[0] is not None
        probability = token_probability(first_sample_steps(row))
        if labels[0] is not None and probability is not None and probability >= threshold:
            trusted += 1
            trusted_right += correct[0]
    total = sum(row.generated_tokens for row in rows)
    perfect = replay_confident(rows, 0.5, first_confidence=first_sample_right)
    return {"oracle_token_share": spent / total,
            "perfect_trust": {"right": perfect["right"], "full_vote_right": perfect["full_vote_right"],
                              "token_share": perfect["token_share"]},
            "first_right": first_right, "trusted": trusted, "trusted_right": trusted_right,
            "give_up": {name: {key: replay[key] for key in ("right", "full_vote_right", "token_share")}
                        for name, rule in give_up.items()
                        for replay in [replay_confident(rows, threshold, give_up=rule)]},
            "n": len(rows)}  # fmt: skip


def adaptive_bounds(
    scan_by_model: dict[str, list[ResultRow]], reports: list[RunReport], unsure: float | None
) -> list[dict[str, Any]]:
    """:func:`adaptive_bound` on each model's train[7000:7100] samples and on every test
    sc@4 run, at the confident rule's default threshold, with :data:`GIVE_UP_RULES` and
    first_unsure at the ``unsure`` limit (:func:`unsure_limit`): whether the adaptive
    target (60 % of sc@4's tokens) lies beyond any stopping rule, or beyond the signal."""
    threshold = SearchConfig().settle_token_probability
    give_up = dict(GIVE_UP_RULES)
    if unsure is not None:
        give_up["first_unsure"] = first_unsure(unsure)
    sources = [(model, "gsm8k:train[7000:7100]", 0, {}, rows)
               for model, rows in scan_by_model.items()]  # fmt: skip
    sources += [(rep.run.model, "gsm8k:test[:50]", seed_of(rep.run),
                 {"cell_prelude": True} if kind(rep.run) == f"{SC}-prelude" else {}, rep.rows)
                for rep in reports if kind(rep.run) in (SC, f"{SC}-prelude")]  # fmt: skip
    return [
        {"model": model, "slice": where, "seed": seed, **marks, "token_probability": threshold,
         **adaptive_bound(rows, threshold, give_up)}
        for model, where, seed, marks, rows in sources
    ]  # fmt: skip
