"""The stages of an evolve round, each an object with ``name``, ``done`` and ``run``.

Round 0: the base policy's ``policy.json`` (not a ledger stage), the dev
searches, the pool searches. Round r >= 1: ``sft_data``, ``sft``, ``export``,
``parity``, ``ppm``, the dev searches, and the pool searches except in the last
round (:func:`round_stages`). The dev searches are the test slices' (``dev_*``)
and the pools' dev slices' (``pool_dev_*``); each pool has its own search (the
search stages are :mod:`thinktree.train.evolve.search_stages`). A stage is done
when the ledger records it and its artifacts are in place; a round's PPM that was
skipped (too few pairs) is not in place, so every sitting tries it again.
"""

from __future__ import annotations

from typing import Any

from thinktree.models.policy import PPM_SUBDIR, Policy, write_policy
from thinktree.reward.ppm import is_trained_ppm
from thinktree.train.evolve.config import EvolveConfig
from thinktree.train.evolve.context import ADAPTER_FILE, EvolveStopped, RoundContext, Stage
from thinktree.train.evolve.ledger import RoundLedger
from thinktree.train.evolve.search_stages import DevSearch, PoolDevSearch, PoolSearch
from thinktree.train.evolve.stage_names import POOL_DEV_PREFIXES, TEST_DEV_PREFIXES, pool_search
from thinktree.train.rounds import MANIFEST_FILE
from thinktree.train.sft.data import (
    Trajectory,
    read_trajectories,
    search_trajectories,
    select_top,
    with_references,
    write_trajectories,
)
from thinktree.train.sft.training import SFTReport, is_holdout

FEATURE_SELECTION = ("gsm8k:train", 100)
"""The default PPM's features were chosen on pairs of gsm8k train[:100] (issue 6,
BENCHMARKS.md); on that pool, round 1 measures its PPM on the other problems only."""


class RecordedStage:
    """A stage that is done once the ledger records it; a stage whose files must also be
    in place says so in its own ``done``."""

    name: str
    timed = True

    def done(self, ledger: RoundLedger) -> bool:
        return ledger.done(self.name)


class BasePolicy:
    """Round 0's policy: the base model, few-shot, no adapter."""

    name = "base_policy"
    timed = False

    def done(self, ledger: RoundLedger) -> bool:
        return (ledger.directory / "policy.json").is_file()

    def run(self, context: RoundContext) -> None:
        base = context.evolve.policy
        write_policy(
            Policy(
                directory=context.directory,
                name="round-0",
                base=base.name,
                base_sha256=base.sha256,
                adapter=None,
                adapter_sha256=None,
                prompt_style="few-shot",
                provenance={"round": 0, "note": "the base policy before any training"},
            )
        )


class SFTData(RecordedStage):
    """The top trajectories of every earlier pool search, plus references when enabled."""

    name = "sft_data"

    def done(self, ledger: RoundLedger) -> bool:
        return super().done(ledger) and (ledger.directory / "sft.jsonl").is_file()

    def run(self, context: RoundContext) -> dict[str, Any]:
        evolve = context.evolve
        evolve.reporter.stage(context.index, self.name, None)
        runs = evolve.pool_run_ids(context.index)
        candidates = search_trajectories(evolve.store, runs)
        selected = select_top(candidates, evolve.config.per_problem)
        from_search = len(selected)
        if evolve.config.reference.enabled:
            selected = with_references(selected, references(context))
        digest = write_trajectories(selected, evolve.paths.sft_data(context.index))
        context.trajectories_cache = selected
        context.ledger.record_data("sft_sha256", digest)
        return {
            "runs": runs,
            "candidates": len(candidates),
            "trajectories": len(selected),
            "from_search": from_search,
            "from_reference": len(selected) - from_search,
            "problems": len({t.problem_id for t in selected}),
            "sha256": digest,
        }


def references(context: RoundContext) -> list[Trajectory]:
    """Converted reference solutions of the first pool's source (cached in OUT)."""
    evolve = context.evolve
    path = evolve.paths.references
    if path.is_file():
        return read_trajectories(path)
    pool = evolve.pool
    problems, _, _ = pool.load()
    start = pool.config.offset
    count = evolve.config.reference.problems or pool.config.size
    chosen = problems[start : start + count]
    evolve.reporter.stage(0, "references", len(chosen))
    converted = evolve.trainers.references(chosen, evolve.reporter.advance)
    trajectories = [
        Trajectory(p.id, p.question, tuple(converted[p.id]), None, None, "reference")
        for p in chosen
        if p.id in converted
    ]
    write_trajectories(trajectories, path)
    return trajectories


class SFT(RecordedStage):
    """LoRA fine-tuning of the policy from its base on the round's SFT data."""

    name = "sft"

    def run(self, context: RoundContext) -> dict[str, Any]:
        evolve = context.evolve
        evolve.reporter.stage(context.index, self.name, None)
        report = evolve.trainers.sft(
            context.trajectories(),
            evolve.paths.sft_dir(context.index),
            evolve.reporter.advance,
            evolve.budget.deadline,
        )
        if report is None:
            raise EvolveStopped(f"round {context.index} sft stopped at a checkpoint")
        return sft_figures(report)


def sft_figures(report: SFTReport) -> dict[str, Any]:
    return {
        **report.to_dict(),
        "sft_tokens": report.tokens_seen,
        "sft_minutes": report.train_seconds / 60,
    }


class Export(RecordedStage):
    """The adapter as a llama.cpp GGUF adapter, and ``policy.json`` naming it."""

    name = "export"

    def done(self, ledger: RoundLedger) -> bool:
        return super().done(ledger) and (ledger.directory / "policy.json").is_file()

    def run(self, context: RoundContext) -> dict[str, Any]:
        from thinktree.models.assemble import sha256_file

        evolve, ledger, directory = context.evolve, context.ledger, context.directory
        peft = evolve.paths.peft_dir(context.index)
        if not peft.is_dir():
            # The ledger travelled to a machine without the round's weights.
            raise ValueError(
                f"round {context.index}'s trained adapter is not on this machine ({peft} is "
                f"missing); copy {directory} here, or delete its {MANIFEST_FILE} to train "
                "the round again"
            )
        evolve.reporter.stage(context.index, self.name, None)
        adapter = evolve.trainers.export(peft, directory / ADAPTER_FILE)
        digest = sha256_file(adapter)
        sft = ledger.figures("sft")
        write_policy(
            Policy(
                directory=directory,
                name=f"round-{context.index}",
                base=evolve.policy.name,
                base_sha256=evolve.policy.sha256,
                adapter=adapter,
                adapter_sha256=digest,
                prompt_style="zero-shot",
                provenance={
                    "round": context.index,
                    "sft_trajectories": ledger.figures("sft_data").get("trajectories"),
                    "sft_sha256": ledger.data["data"].get("sft_sha256"),
                    "sft_tokens": sft.get("sft_tokens"),
                },
            )
        )
        return {
            "adapter": ADAPTER_FILE,
            "adapter_sha256": digest,
            "adapter_bytes": adapter.stat().st_size,
        }


class Parity(RecordedStage):
    """Teacher-forced agreement of PEFT and llama.cpp with the adapter, and without it."""

    name = "parity"

    def run(self, context: RoundContext) -> dict[str, Any]:
        evolve = context.evolve
        evolve.reporter.stage(context.index, self.name, None)
        trajectories = context.trajectories()
        fraction = evolve.config.sft.holdout_fraction
        holdout = [t for t in trajectories if is_holdout(t.problem_id, fraction)]
        chosen = holdout or trajectories[-4:]
        figures = evolve.trainers.parity(
            chosen, evolve.paths.peft_dir(context.index), context.directory / ADAPTER_FILE
        )
        # Held-out trajectories were never trained on; without any (a tiny pool)
        # the last training ones stand in, and the ledger says so.
        return {**figures, "held_out": bool(holdout)}


class RoundPPM(RecordedStage):
    """PPM_r on the pairs of all trees so far, measured on the newest search's new problems."""

    name = "ppm"

    def done(self, ledger: RoundLedger) -> bool:
        return super().done(ledger) and is_trained_ppm(ledger.directory / PPM_SUBDIR)

    def run(self, context: RoundContext) -> dict[str, Any]:
        evolve = context.evolve
        evolve.reporter.stage(context.index, self.name, None)
        runs = evolve.pool_run_ids(context.index)
        known = known_problem_ids(context)
        directory = evolve.paths.ppm_dir(context.index)
        try:
            figures = evolve.trainers.ppm(
                evolve.store, runs, directory, known, evolve.budget.deadline
            )
        except ValueError as exc:
            # Too few pairs to fit and cross-validate a head: the round goes on
            # without a PPM (its searches use outcome rewards / agreement only).
            evolve.reporter.note(f"round {context.index}: no PPM ({exc})")
            return {"pairs": None, "skipped": str(exc)}
        if figures is None:
            raise EvolveStopped(f"round {context.index} ppm stopped at a checkpoint")
        return figures


def known_problem_ids(context: RoundContext) -> set[str]:
    """Problems an earlier choice saw: the searches before the newest one, and (in
    round 1) the problems the default PPM's features were selected on."""
    evolve = context.evolve
    known: set[str] = set()
    for pool in evolve.pool_list if context.index == 1 else ():
        problems, dataset, _ = pool.load()
        if dataset == FEATURE_SELECTION[0]:
            known |= {p.id for p in problems[: FEATURE_SELECTION[1]]}
    for run_id in evolve.pool_run_ids(context.index - 1):
        known |= evolve.store.done_problem_ids(run_id)
    return known


def round_stages(index: int, config: EvolveConfig) -> list[Stage]:
    """Round ``index``'s stages in the order they run (the order of
    :data:`~thinktree.train.evolve.stage_names.FAMILIES` for the per-pool ones)."""
    stages: list[Stage] = (
        [BasePolicy()] if index == 0 else [SFTData(), SFT(), Export(), Parity(), RoundPPM()]
    )
    dev = config.dev
    if dev.greedy_limit:
        stages.append(DevSearch("dev_greedy", dev.benchmark, dev.split, dev.greedy_limit,
                                dev.greedy, with_ppm=False))  # fmt: skip
    if dev.mcts_limit:
        stages.append(DevSearch("dev_mcts", dev.benchmark, dev.split, dev.mcts_limit,
                                dev.mcts, with_ppm=True))  # fmt: skip
    greedy, mcts = TEST_DEV_PREFIXES
    stages += [DevSearch(greedy + s.label, s.benchmark, s.split, s.greedy_limit, dev.greedy,
                         with_ppm=False) for s in dev.also if s.greedy_limit]  # fmt: skip
    stages += [DevSearch(mcts + s.label, s.benchmark, s.split, s.mcts_limit, dev.mcts,
                         with_ppm=True) for s in dev.also if s.mcts_limit]  # fmt: skip
    for prefix, search in zip(POOL_DEV_PREFIXES, (dev.greedy, dev.sc), strict=True):
        stages.extend(
            PoolDevSearch(prefix + pool.label, i, search)
            for i, pool in enumerate(config.pools)
            if pool.dev is not None
        )
    if index == 0 or index < config.rounds:
        stages.extend(
            PoolSearch(pool_search(i, pool.label), i) for i, pool in enumerate(config.pools)
        )
    return stages
