"""Issue 18's comparisons between runs: the tuning slice's rows, the seed-0 pairs,
the kinds pooled over seeds, and the cell prelude's pairs and rule.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations
from typing import Any

from thinktree.eval.bench.analyses.search18.kinds import (
    GREEDY,
    MCTS,
    OLD_SETTING,
    SC,
    base_kind,
    is_mcts,
    is_sc,
    kind,
    search_of,
    seed_of,
    setting,
)
from thinktree.eval.bench.analyses.search18.runs import (
    compare,
    rollout_votes,
    tree_pass,
    votes_by_problem,
)
from thinktree.eval.bench.analyses.search18.thresholds import slice_runs
from thinktree.eval.bench.context import seeded_rows
from thinktree.eval.metrics import dominance, pairwise, sign_test
from thinktree.eval.report import RunReport, build_reports
from thinktree.search.mcts.search import MCTSSearch
from thinktree.search.sampling import SelfConsistencySearch
from thinktree.store import RunStore


def tune_rows(store: RunStore) -> list[dict[str, Any]]:
    """Every whole run on the slice: mcts rows with their setting, each compared with
    the old settings and with sc@4 of its own model where those were run; the sc@4
    references as rows of their own."""
    reports = build_reports(slice_runs(store, (MCTSSearch, SelfConsistencySearch)))

    def of_model(model: str, wanted: Callable[[RunReport], bool]) -> RunReport | None:
        return next((rep for rep in reports if rep.run.model == model and wanted(rep)), None)

    def old(rep: RunReport) -> bool:
        return not is_sc(rep.run) and setting(rep.run) == OLD_SETTING

    def sc(rep: RunReport) -> bool:
        return is_sc(rep.run)

    out = []
    for rep in reports:
        row: dict[str, Any] = {"run_id": rep.run.id, "model": rep.run.model,
                               "strategy": rep.run.strategy}  # fmt: skip
        if is_mcts(rep.run):
            row.update(setting(rep.run), k=search_of(rep.run)["k"])
        row.update({
            "accuracy": rep.summary["accuracy"],
            "tokens_per_problem": rep.summary["tokens_per_problem"],
            "tree_pass": tree_pass(rep.rows),
            "exhausted_trees": sum(r.stop_reason == "exhausted" for r in rep.rows),
            "n": len(rep.rows),
        })  # fmt: skip
        for name, wanted in (("vs_old", old), ("vs_sc", sc)):
            other = of_model(rep.run.model, wanted)
            if other is not None and other is not rep and is_mcts(rep.run):
                row[name] = pairwise(rep.rows, other.rows)
        out.append(row)
    return out


# The default mcts@4 with a confident first rollout (the search recipe's mctsconf runs) against the
# trees it stops early, sc@4 and the confident sc@4 it mirrors.
ADAPTIVE_MCTS_PAIRS = (
    (f"{MCTS}-settle-confident-default", f"{MCTS}-default"),
    (f"{MCTS}-settle-confident-default", SC),
    (f"{MCTS}-settle-confident-default", f"{SC}-settle-confident"),
)


# The confident sc@4 with unsure samples dropped at the floor chosen on train
# (the search recipe's stepfloor runs) against sc@4 and the confident sc@4 without the floor.
STEP_FLOOR_PAIRS = (
    (f"{SC}-settle-confident-floor0.69", SC),
    (f"{SC}-settle-confident-floor0.69", f"{SC}-settle-confident"),
)


def slice_comparisons(reports: list[RunReport]) -> list[dict[str, Any]]:
    wanted = [(f"{MCTS}-default", f"{MCTS}-old"), (f"{MCTS}-default", SC),
              (f"{MCTS}-default", GREEDY), (f"{MCTS}-default", f"{MCTS}-previous"),
              (f"{MCTS}-previous", f"{MCTS}-old"), (f"{MCTS}-previous", SC),
              (f"{MCTS}-previous", GREEDY), (f"{MCTS}-old", SC), (f"{SC}-settle-decided", SC),
              (f"{SC}-settle-agree", SC), (f"{SC}-settle-confident", SC),
              (f"{SC}-settle-confident-0.88", SC),
              (f"{MCTS}-settle-agree-previous", f"{MCTS}-previous"),
              (f"{MCTS}-settle-agree-previous", SC),
              (f"{MCTS}-previous-k4", SC), (f"{MCTS}-previous-k4", f"{MCTS}-previous"),
              (f"{MCTS}-default", f"{MCTS}-previous-k4"),
              (f"{MCTS}-default-prelude", f"{SC}-prelude"),
              *ADAPTIVE_MCTS_PAIRS, *STEP_FLOOR_PAIRS]  # fmt: skip
    out = []
    for model in sorted({rep.run.model for rep in reports}):
        by_kind: dict[str, RunReport] = {}
        for rep in reports:
            if rep.run.model == model and seed_of(rep.run) == 0:
                by_kind.setdefault(kind(rep.run), rep)
        for a, b in wanted:
            if a in by_kind and b in by_kind:
                out.append({"model": model, "pair": f"{a} vs {b}",
                            **compare(by_kind[a], by_kind[b])})  # fmt: skip
    return out


SEED_PAIRS = (
    *STEP_FLOOR_PAIRS,
    *ADAPTIVE_MCTS_PAIRS,
    (f"{MCTS}-default", SC),
    (f"{MCTS}-previous", SC),
    (f"{MCTS}-default", f"{MCTS}-previous"),
    (f"{SC}-settle-confident", SC),
    (f"{MCTS}-default", f"{SC}-settle-confident"),
    (f"{SC}-settle-confident", f"{SC}-settle-confident-0.88"),
    (f"{SC}-settle-confident-0.88", SC),
    (f"{MCTS}-default", f"{SC}-settle-confident-0.88"),
    (f"{MCTS}-previous", f"{SC}-settle-confident-0.88"),
    (f"{MCTS}-previous-k4", SC),
    (f"{MCTS}-previous-k4", f"{MCTS}-previous"),
)


def right_votes_paired(
    pairs: list[tuple[RunReport, RunReport]], trees: dict[str, dict[str, list[dict[str, Any]]]]
) -> dict[str, Any]:
    """Two full-budget kinds' runs, seed by seed: their rollouts' or samples' right votes
    (:func:`votes_by_problem`) summed, and a sign test over the (problem, seed) pairs on
    which side's draws were right more often. Whether one kind's draws are worse than the
    other's where the votes' sign test cannot tell."""
    rollouts_a = rollouts_b = right_a = right_b = more = fewer = 0
    for rep_a, rep_b in pairs:
        votes_a = votes_by_problem(rep_a, trees.get(rep_a.run.id, {}))
        votes_b = votes_by_problem(rep_b, trees.get(rep_b.run.id, {}))
        for problem in votes_a.keys() & votes_b.keys():
            (drawn_a, _, a, _), (drawn_b, _, b, _) = votes_a[problem], votes_b[problem]
            rollouts_a, rollouts_b = rollouts_a + drawn_a, rollouts_b + drawn_b
            right_a, right_b = right_a + a, right_b + b
            more, fewer = more + (a > b), fewer + (a < b)
    return {"rollouts_a": rollouts_a, "rollouts_b": rollouts_b, "right_votes_a": right_a,
            "right_votes_b": right_b, "more_right": more, "fewer_right": fewer,
            "sign_test_p": sign_test(more, fewer)}  # fmt: skip


def seeds(
    reports: list[RunReport], trees: dict[str, dict[str, list[dict[str, Any]]]]
) -> list[dict[str, Any]]:
    """Per model, the kinds run with more than one seed: each seed's run, the kinds
    compared over every (problem, seed) pair (full-budget kinds also by their draws'
    right votes, :func:`right_votes_paired`), and each kind's seeds against each other."""
    out = []
    for model in sorted({rep.run.model for rep in reports}):
        by_kind: dict[str, dict[int, RunReport]] = {}
        for rep in reports:
            if rep.run.model == model:
                by_kind.setdefault(kind(rep.run), {}).setdefault(seed_of(rep.run), rep)
        seeded = {name: runs for name, runs in by_kind.items() if len(runs) > 1}
        if not seeded:
            continue
        runs = {
            name: [{"seed": seed, "run_id": rep.run.id, "right": sum(bool(r.correct) for r in rep.rows),
                    "tokens_per_problem": rep.summary["tokens_per_problem"], "n": len(rep.rows)}
                   for seed, rep in sorted(by_seed.items())]
            for name, by_seed in seeded.items()
        }  # fmt: skip
        pooled = []
        for a, b in SEED_PAIRS:
            if a in seeded and b in seeded:
                shared = sorted(set(seeded[a]) & set(seeded[b]))
                rows_a = [row for s in shared for row in seeded_rows(seeded[a][s].rows, s)]
                rows_b = [row for s in shared for row in seeded_rows(seeded[b][s].rows, s)]
                d = dominance(rows_a, rows_b)
                entry = {"pair": f"{a} vs {b}", "seeds": shared, **d,
                         "token_ratio": d["tokens_a"] / d["tokens_b"]}  # fmt: skip
                if not any(name.startswith((f"{SC}-settle", f"{MCTS}-settle")) for name in (a, b)):
                    runs_of = [(seeded[a][s], seeded[b][s]) for s in shared]
                    entry["right_votes"] = right_votes_paired(runs_of, trees)
                pooled.append(entry)
        between = {
            name: {f"{b} vs {a}": pairwise(by_seed[b].rows, by_seed[a].rows)
                   for a, b in combinations(sorted(by_seed), 2)}
            for name, by_seed in seeded.items()
        }  # fmt: skip
        out.append({"model": model, "runs": runs, "pooled": pooled, "between_seeds": between})
    return out


PRELUDE_NAMES = ("Fraction", "fractions", "math", "sympy")


def prelude_name_errors(rep: RunReport, trees: dict[str, list[dict[str, Any]]]) -> int:
    """Steps that failed on a NameError for a name the cell prelude binds, in the run's
    samples (sc) or tree nodes (mcts)."""
    if is_mcts(rep.run):
        steps = [node["step"] for nodes in trees.values() for node in nodes if node["step"]]
    else:
        steps = [step for row in rep.rows for t in row.trajectories for step in t["steps"]]
    wanted = {f"NameError: name '{name}' is not defined" for name in PRELUDE_NAMES}
    return sum(step.get("error") in wanted for step in steps)


def prelude_pairs(
    reports: list[RunReport], trees: dict[str, dict[str, list[dict[str, Any]]]]
) -> list[dict[str, Any]]:
    """Each run made with the cell prelude against the run of its model, kind and seed
    made without it (the search recipe's prelude runs): one configuration but for the
    prelude, one seed (not a paired draw: the batches' floating point differs between
    sittings, so samples part even where no cell met the error); with the steps that
    failed on an unbound prelude name, and what the samples or rollouts gave the vote."""
    out = []
    for rep in reports:
        if not kind(rep.run).endswith("-prelude"):
            continue
        base = next((r for r in reports if r.run.model == rep.run.model
                     and kind(r.run) == base_kind(rep.run) and seed_of(r.run) == seed_of(rep.run)),
                    None)  # fmt: skip
        if base is None:
            continue
        pair: dict[str, Any] = {"model": rep.run.model, "kind": base_kind(rep.run),
                                "seed": seed_of(rep.run), **compare(rep, base)}  # fmt: skip
        for side, run_report in (("a", rep), ("b", base)):
            nodes = trees.get(run_report.run.id, {})
            pair[f"name_errors_{side}"] = prelude_name_errors(run_report, nodes)
            pair[f"votes_{side}"] = rollout_votes(run_report, nodes)
        out.append(pair)
    return out


# The prelude's runs (the search recipe's prelude runs): sc@4 and the default mcts@4 on each model.
PRELUDE_RUNS = 4


def prelude_rule(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """The rule fixed in the search recipe before three of the four prelude runs: the
    prelude becomes the default unless its runs together answer fewer problems than
    their pairs without it (decided once all four are stored)."""
    right_with = sum(round(p["accuracy_a"] * p["common"]) for p in pairs)
    right_without = sum(round(p["accuracy_b"] * p["common"]) for p in pairs)
    won, lost = sum(p["won"] for p in pairs), sum(p["lost"] for p in pairs)
    decided = len(pairs) == PRELUDE_RUNS
    return {"runs": len(pairs), "right_with": right_with, "right_without": right_without,
            "won": won, "lost": lost, "sign_test_p": sign_test(won, lost),
            "on_by_default": right_with >= right_without if decided else None}  # fmt: skip
