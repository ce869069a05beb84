"""Issue 51's verifier measurement (``analyses: [verifier]``; benchmarks/recipes/verifier.yaml).

Per policy model, pooled over seeds on the report's problems (a problem under seed 1
and under seed 2 are two (problem, seed) pairs), the recipe's arms by name:

- ``sc@4``: the sampling run, its answer the majority vote;
- ``sc@4 best`` and ``sc@4 weighted``: the same samples rescored by the LM PPM
  (the recipe run's ``rescore`` with ``rescore_select: [best, weighted]``; a rescored
  run's arm is its source's name and the rule);
- ``mcts@4+ppm``: MCTS with the PPM valuing nodes and choosing the answer.

The scored arms count only runs scored by the PPM of ``options.ppm`` (given as the
runs give it, ``ppm:DIR``, resolved from the working directory as theirs are); a run
of another PPM is left out. An arm with no run gives null figures. ``pass_at_4`` is
the share of graded pairs where some sc@4 sample is right (the headroom a verifier
can reach). ``sc4_probability_weighted``: the weighted vote over the same samples by the
policy's own token probability (their geometric mean, as ``verifier_bar`` reads it), the
free rival a trained verifier must also beat, with its sign test against the vote.
Wall seconds a problem are the runs' wall time (sc@4: generation only; a rescored run
adds its scoring and grading; mcts@4+ppm: search with scoring), null where a run
recorded none. ``*_vs_*``: won and lost on the pairs both arms hold,
with the two-sided exact sign test (:func:`thinktree.eval.metrics.pairwise`).

``pairs`` is the PPM's training record (its ``ppm.json``'s ``training``): training
pairs and problems, held-out pairs and problems (held out by problem), and held-out
pairwise accuracy of the LM PPM, the feature PPM and mean log-probability on the
same pairs (``lm_untrained``: the base model's own yes/no score). ``scoring`` is read
from ``options.scoring``, a JSON file of the repository holding ``seconds_per_node``
and ``share_of_search_wall_time`` (a scoring-cost measurement), or null values while
``options.scoring`` is null (not measured yet).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from thinktree.eval.bench.analyses.summary import pooled_arms
from thinktree.eval.bench.analyses.verifier_bar import probability_weighted, versus_vote
from thinktree.eval.bench.context import ArmReport, ReportContext, scorer_of
from thinktree.eval.metrics import pairwise
from thinktree.store import ResultRow

SC4, SC4_BEST, SC4_WEIGHTED, MCTS4_PPM = "sc@4", "sc@4 best", "sc@4 weighted", "mcts@4+ppm"
ARMS = (SC4, SC4_BEST, SC4_WEIGHTED, MCTS4_PPM)
SCORED_ARMS = (SC4_BEST, SC4_WEIGHTED, MCTS4_PPM)
SCORING_KEYS = ("seconds_per_node", "share_of_search_wall_time")
SAMPLES = 4


def verifier(ctx: ReportContext) -> dict[str, Any]:
    from thinktree.reward.registry import ppm_directory, ppm_spec_identity

    spec = ctx.option("ppm")
    if not isinstance(spec, str) or not spec.startswith("ppm:"):
        raise ValueError(
            "the verifier report needs options.ppm: the PPM its runs are scored by, "
            "as they name it (ppm:DIR)"
        )
    identity = ppm_spec_identity(spec)
    chosen = [
        rep
        for rep in ctx.reports
        if rep.arm in ARMS and (rep.arm not in SCORED_ARMS or scorer_of(rep.run) == identity)
    ]
    arms = pooled_arms(chosen)
    models = {}
    for model in dict.fromkeys(arm.run.model for arm in arms):
        problems = {row.problem_id for rep in chosen if rep.run.model == model for row in rep.rows}
        by_name = {arm.arm: arm for arm in arms if arm.run.model == model}
        models[model] = model_entry(by_name, len(problems))
    return {
        "pairs": training_pairs(ppm_directory(spec)),
        "scoring": scoring_cost(ctx),
        "models": models,
    }


def model_entry(arms: Mapping[str, ArmReport], problems: int) -> dict[str, Any]:
    """One model's figures from its pooled arms (by name); ``problems``: distinct problems."""
    sc, best, weighted, mcts = (arms.get(name) for name in ARMS)
    probability_accuracy, probability_versus = probability_vote(sc)
    return {
        "seeds": sorted({seed for arm in arms.values() for seed in arm.seeds}),
        "n": problems,
        "pass_at_4": None if sc is None else some_sample_right(sc.rows),
        "sc4_majority": figure(sc, "accuracy"),
        "sc4_weighted": figure(weighted, "accuracy"),
        "sc4_best": figure(best, "accuracy"),
        "mcts4_ppm": figure(mcts, "accuracy"),
        "sc4_wall_seconds_per_problem": wall_per_problem(sc),
        "sc4_weighted_wall_seconds_per_problem": wall_per_problem(weighted),
        "mcts4_ppm_wall_seconds_per_problem": wall_per_problem(mcts),
        "sc4_tokens_per_problem": figure(sc, "tokens_per_problem"),
        "mcts4_ppm_tokens_per_problem": figure(mcts, "tokens_per_problem"),
        "sc4_probability_weighted": probability_accuracy,
        "weighted_vs_majority": versus(weighted, sc),
        "best_vs_majority": versus(best, sc),
        "mcts4_ppm_vs_sc4": versus(mcts, sc),
        "probability_weighted_vs_majority": probability_versus,
        "problem_seed_pairs": {name: len(arm.rows) for name, arm in arms.items()},
    }


def some_sample_right(rows: Sequence[ResultRow]) -> float | None:
    """The share of graded rows with at least one right sample (pass@k at k = samples)."""
    graded = [row for row in rows if row.correct is not None]
    if not graded:
        return None
    return sum(any(row.samples.get("correct", [])) for row in graded) / len(graded)


def probability_vote(sc: ArmReport | None) -> tuple[float | None, dict[str, Any] | None]:
    """The token-probability-weighted vote's accuracy over sc@4's samples and its sign
    test against the vote (None, None without an sc@4 arm)."""
    if sc is None:
        return None, None
    picked = probability_weighted(sc.rows, SAMPLES)
    voted = [bool(row.correct) for row in sc.rows if row.correct is not None]
    accuracy = sum(picked) / len(picked) if picked else None
    return accuracy, versus_vote(picked, voted)


def figure(arm: ArmReport | None, key: str) -> Any:
    return None if arm is None else arm.summary[key]


def wall_per_problem(arm: ArmReport | None) -> float | None:
    """Wall seconds a pair, null where a run of the arm recorded no wall time."""
    if arm is None or "wall_seconds" not in arm.summary:
        return None
    return float(arm.summary["seconds_per_problem"])


def versus(a: ArmReport | None, b: ArmReport | None) -> dict[str, Any] | None:
    return None if a is None or b is None else pairwise(a.rows, b.rows)


def training_pairs(directory: Path) -> dict[str, Any]:
    """The pairs block from the LM PPM's ``ppm.json`` (ValueError, one line, otherwise)."""
    from thinktree.reward.ppm_dir import LM_KIND, read_ppm_json

    record = read_ppm_json(directory)
    training = record.get("training") if record.get("kind") == LM_KIND else None
    if not isinstance(training, dict):
        raise ValueError(
            f"options.ppm: {directory} holds no LM PPM's training record; point it at a "
            "directory `thinktree ppm train --kind lm` wrote"
        )
    held = training.get("held_out_accuracy") or {}
    return {
        "train": training.get("pairs_train"),
        "problems": training.get("problems_train"),
        "held_out": training.get("pairs_held_out"),
        "held_out_problems": training.get("problems_held_out"),
        "held_out_accuracy": {
            "lm": held.get("lm_ppm"),
            "features": held.get("feature_ppm"),
            "mean_logprob": held.get("mean_logprob"),
            "lm_untrained": held.get("base"),
        },
    }


def scoring_cost(ctx: ReportContext) -> dict[str, Any]:
    """``options.scoring``'s two figures, or nulls while it is null (not measured)."""
    if ctx.option("scoring") is None:
        return dict.fromkeys(SCORING_KEYS)
    path = ctx.path_option("scoring", "")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"options.scoring: cannot read {path} ({exc}); measure the scoring cost first "
            "or set scoring: null"
        ) from None
    absent = [key for key in SCORING_KEYS if not isinstance(data, dict) or key not in data]
    if absent:
        raise ValueError(
            f"options.scoring: {path} has no {absent[0]}; it needs {' and '.join(SCORING_KEYS)}"
        )
    return {key: data[key] for key in SCORING_KEYS}
