"""A round's summary row from its ledger's stages, and the round its figures choose.

The pool figures are over every pool (problems summed, accuracy over all of them),
given once every pool's stage has finished; so are the pools' dev slices' greedy and
sc figures, which choose the round (:func:`chosen_round`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

# The rule lives in eval, whose reports (which never import train) read it too.
from thinktree.eval.metrics import chosen_round as chosen_round
from thinktree.train.evolve.stage_names import POOL_DEV_PREFIXES, TEST_DEV_PREFIXES, pool_search

if TYPE_CHECKING:  # the viewer reads chosen_round without the config's imports
    from thinktree.train.evolve.config import EvolveConfig


def pooled(figures: Sequence[Mapping[str, Any] | None]) -> tuple[int | None, float | None]:
    """(problems, accuracy) of several stages' figures taken together; (None, None)
    while any of them is missing. One stage's figures come back as they are."""
    present = [f for f in figures if f is not None]
    if not figures or len(present) < len(figures):
        return None, None
    if len(present) == 1:
        return present[0].get("n"), present[0].get("accuracy")
    n = sum(int(f.get("n") or 0) for f in present)
    correct = sum(round((f.get("accuracy") or 0.0) * int(f.get("n") or 0)) for f in present)
    return n, (correct / n if n else None)


def round_row(index: int, stages: Mapping[str, Mapping[str, Any]], config: EvolveConfig) -> dict:
    """One row of the summary (None where a stage has not run)."""
    get = lambda stage, key: stages.get(stage, {}).get(key)  # noqa: E731
    searches = [stages.get(pool_search(i, p.label)) for i, p in enumerate(config.pools)]
    pool_size, pool_accuracy = pooled(searches)
    row: dict[str, Any] = {
        "round": index,
        "pool_size": pool_size,
        "pool_accuracy": pool_accuracy,
        "trajectories": get("sft_data", "trajectories"),
        "pairs": get("ppm", "pairs"),
        "sft_tokens": get("sft", "sft_tokens"),
        "sft_minutes": get("sft", "sft_minutes"),
        "sft_tokens_per_second": get("sft", "tokens_per_second"),
        "holdout_loss_before": get("sft", "holdout_loss_before"),
        "holdout_loss_after": get("sft", "holdout_loss_after"),
        "ppm_pairwise_new": get("ppm", "pairwise_accuracy_new"),
        "ppm_pairwise_held_out": get("ppm", "pairwise_accuracy_held_out"),
        "dev_greedy": get("dev_greedy", "accuracy"),
        "dev_greedy_n": get("dev_greedy", "n"),
        "dev_greedy_in_format": get("dev_greedy", "in_format"),
        "dev_mcts": get("dev_mcts", "accuracy"),
        "dev_mcts_n": get("dev_mcts", "n"),
        "parity": {k: get("parity", k) for k in ("agree", "base_agree", "positions")},
    }
    with_dev = [p.label for p in config.pools if p.dev is not None]
    for prefix in POOL_DEV_PREFIXES:
        key = prefix.removesuffix("_")
        row[key + "_n"], row[key] = pooled([stages.get(prefix + label) for label in with_dev])
    if len(config.pools) > 1:
        row["pools"] = {
            p.label: {"n": (s or {}).get("n"), "accuracy": (s or {}).get("accuracy")}
            for p, s in zip(config.pools, searches, strict=True)
        }
    # Each pool's dev slices and each further test slice, by stage name.
    if with_dev:
        row["pool_dev"] = {
            prefix + label: get(prefix + label, "accuracy")
            for label in with_dev
            for prefix in POOL_DEV_PREFIXES
        }
    if config.dev.also:
        row["dev_also"] = {
            prefix + s.label: get(prefix + s.label, "accuracy")
            for s in config.dev.also
            for prefix in TEST_DEV_PREFIXES
        }
    return row
