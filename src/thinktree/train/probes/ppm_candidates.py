"""PPM candidates (issue 6): train each on the same pairs, compare on held-out problems.

    thinktree bench benchmarks/recipes/ppm_candidates.yaml [--set runs=[RUN, ...]]

Candidates: a head (linear or MLP) on the fast model's last-token hidden state
(torch, reusing a parent's KV cache) of the whole partial solution or of the
last step only, handcrafted features, and both together (``only:
[llamacpp-full-mlp]`` runs the llama.cpp embedding of the same texts). Each is
trained by ``thinktree.train.ppm.train_ppm`` on the pairs of the given MCTS
(outcome) runs, with the same problem-level folds; embeddings are computed once
per context and shared. Each candidate's cross-validation is repeated with
five head seeds, since on a few hundred pairs the seed alone moves the figure
by points; the best candidate (mean cross-validated pairwise accuracy over the
seeds, ties to the cheaper) is copied to benchmarks/ppm/default. Embeddings are cached
in benchmarks/ppm/cache-*, which also keep the seconds spent computing them: a
candidate is charged the whole cache's cost, however many sittings or
candidates filled it (time it on an idle machine, or delete the caches first).
Figures go to benchmarks/results/ppm.json (merged: guided search runs are added
by ``thinktree bench benchmarks/recipes/ppm_guided.yaml``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from pydantic import Field, field_validator

from thinktree.eval.bench.probes.base import Probe, ProbeContext, ProbeOptions
from thinktree.eval.bench.probes.results import read_results, write_results
from thinktree.reward.features import HANDCRAFTED_V1, FeatureSpec
from thinktree.train.ppm.head import HeadConfig

PPM_DIR = "benchmarks/ppm"
HAND = FeatureSpec(("handcrafted",))
# Each head named in full: they were measured when HeadConfig's defaults were one
# linear head of 128 (now the measured best, five MLPs of 32).
CANDIDATES = {
    # The default before the four sanity features (its first 15 features).
    "handcrafted-v1-mlp": (FeatureSpec(("handcrafted",), handcrafted=HANDCRAFTED_V1),
                           HeadConfig(kind="mlp", hidden=32, ensemble=1)),
    "handcrafted-linear": (HAND, HeadConfig(kind="linear", hidden=128, ensemble=1)),
    "handcrafted-mlp": (HAND, HeadConfig(kind="mlp", hidden=32, ensemble=1)),
    "handcrafted-mlp-x5": (HAND, HeadConfig(kind="mlp", hidden=32, ensemble=5)),
    "embed-last-linear": (FeatureSpec(("embedding",), "fast", "last"), HeadConfig(kind="linear", hidden=128, ensemble=1)),
    "embed-full-linear": (FeatureSpec(("embedding",), "fast", "full"), HeadConfig(kind="linear", hidden=128, ensemble=1)),
    "embed-full-mlp": (FeatureSpec(("embedding",), "fast", "full"), HeadConfig(kind="mlp", hidden=128, ensemble=1)),
    "embed-full+hand-linear": (FeatureSpec(("embedding", "handcrafted"), "fast", "full"),
                               HeadConfig(kind="linear", hidden=128, ensemble=1)),
    # The same features from llama.cpp (quantised model, no prefix reuse): name it in `only` to compare.
    "llamacpp-full-mlp": (FeatureSpec(("embedding",), "fast", "full", "llamacpp"),
                          HeadConfig(kind="mlp", hidden=128, ensemble=1)),
}  # fmt: skip
DEFAULT_CANDIDATES = [name for name in CANDIDATES if not name.startswith("llamacpp")]
COST = {"handcrafted": 0, "last": 1, "full": 2}
SEED_REPEATS = 5


class PPMCandidatesOptions(ProbeOptions):
    runs: list[str] = Field(min_length=1)
    """The MCTS (outcome) runs whose trees give the pairs."""
    store: str = "benchmarks/runs.db"
    """The run store holding them (relative to the repository)."""
    only: list[str] | None = None
    """Candidates to train (default: all but the llama.cpp one)."""
    out: str = "benchmarks/results/ppm.json"
    """The results file (relative to the repository); keys it does not write are kept."""

    @field_validator("only")
    @classmethod
    def _known(cls, only: list[str] | None) -> list[str] | None:
        unknown = [name for name in only or [] if name not in CANDIDATES]
        if unknown:
            raise ValueError(f"unknown candidate {unknown[0]!r}; known: {', '.join(CANDIDATES)}")
        return only


def run(options: PPMCandidatesOptions, ctx: ProbeContext) -> Path:
    from thinktree.store import RunStore
    from thinktree.train.ppm.training import train_ppm

    base = ctx.path(PPM_DIR)
    say = ctx.say

    def report_features(stage: str, done: int, total: int) -> None:
        if stage == "features":
            say(f"  features {done}/{total} texts")

    records = {}
    with RunStore(ctx.path(options.store), create=False) as store:
        rollout_problems = sum(len(store.done_problem_ids(run_id)) for run_id in options.runs)
        for name, (spec, head) in CANDIDATES.items():
            if name not in (options.only or DEFAULT_CANDIDATES):
                continue
            cache = base / f"cache-{spec.model}-{spec.context}-{spec.backend}"
            result = train_ppm(store, options.runs, base / name, features=spec, head=head,
                               cache_dir=cache, progress=report_features,
                               seed_repeats=SEED_REPEATS)  # fmt: skip
            records[name] = result.record
            ctx.say(f"{name} " + json.dumps({k: result.record[k] for k in (
                "pairs", "pairwise_accuracy", "pairwise_accuracy_clean", "feature_seconds",
                "train_seconds")}) + f" seed mean {round(result.record['seed_spread']['mean'], 4)}")  # fmt: skip

    def rank(name: str) -> tuple[float, float, int]:
        rec = records[name]
        cost = (
            0 if "embedding" not in rec["features"]["kinds"] else COST[rec["features"]["context"]]
        )
        spread = rec["seed_spread"]
        return (spread["mean"], spread["mean_clean"], -cost)

    best = max(records, key=rank)

    chosen = records[best]
    default = base / "default"
    if default.exists():
        shutil.rmtree(default)
    shutil.copytree(base / best, default, ignore=shutil.ignore_patterns("checkpoint*.pt"))
    out_path = ctx.path(options.out)
    out = read_results(out_path)
    out.update({
        "command": ctx.command,
        "chosen": best,
        "rollout_problems": rollout_problems,
        "pairs": chosen["pairs"],
        "pairs_by_kind": chosen["pairs_by_kind"],
        "problems_with_pairs": chosen["problems_with_pairs"],
        "evaluation": f"{chosen['folds']}-fold cross-validation by problem, all pairs out of fold",
        "clean_pairs": chosen["evaluated_clean_pairs"],
        "feature_minutes": chosen["feature_seconds_from_scratch"] / 60,
        "train_minutes": (chosen["feature_seconds_from_scratch"] + chosen["train_seconds"]) / 60,
        "pairwise_accuracy": chosen["pairwise_accuracy"],
        "pairwise_accuracy_clean": chosen["pairwise_accuracy_clean"],
        "pairwise_accuracy_by_kind": chosen["pairwise_accuracy_by_kind"],
        "seed_spread": chosen["seed_spread"],
        "baselines": {k: v["clean"] for k, v in chosen["baselines"].items()},
        "baselines_all_pairs": {k: v["all"] for k, v in chosen["baselines"].items()},
        # Entries of other scripts (the LoRA probe) and of candidates not rerun stay.
        "candidates": {**out.get("candidates", {}), **{name: {k: rec[k] for k in (
            "pairwise_accuracy", "pairwise_accuracy_clean", "pairwise_accuracy_train",
            "pairwise_accuracy_valid", "feature_seconds", "feature_seconds_from_scratch",
            "train_seconds", "seed_spread", "pairwise_accuracy_by_kind",
            "cross_validation_seconds", "features", "head")}
            for name, rec in records.items()}},
    })  # fmt: skip
    write_results(out_path, out)
    ctx.say(f"chosen: {best}")
    return out_path


PROBE = Probe(PPMCandidatesOptions, "PPM candidates cross-validated on the same pairs", run)
