"""The stages of an evolve round, each an object with ``name``, ``done`` and ``run``.

Round 0: the base policy's ``policy.json`` (not a ledger stage), the dev
searches, the pool search. Round r >= 1: ``sft_data``, ``sft``, ``export``,
``parity``, ``ppm``, the dev searches, and the pool search except in the last
round (:func:`round_stages`). A stage is done when the ledger records it and
its artifacts are in place; a round's PPM that was skipped (too few pairs) is
not in place, so every sitting tries it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from thinktree.models.policy import PPM_SUBDIR, Policy, write_policy
from thinktree.problems import dataset_hash, load_source
from thinktree.reward.ppm import is_trained_ppm
from thinktree.search import SearchConfig
from thinktree.train.evolve.config import EvolveConfig
from thinktree.train.evolve.context import ADAPTER_FILE, EvolveStopped, RoundContext, Stage
from thinktree.train.evolve.ledger import RoundLedger
from thinktree.train.evolve.searching import evaluate_stage
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
    """Converted reference solutions of the pool source (cached in OUT)."""
    evolve = context.evolve
    path = evolve.paths.references
    if path.is_file():
        return read_trajectories(path)
    problems, _, _ = evolve.pool.load()
    start = evolve.config.pool.offset
    count = evolve.config.reference.problems or evolve.config.pool.size
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
            return evolve.trainers.ppm(evolve.store, runs, directory, known)
        except ValueError as exc:
            # Too few pairs to fit and cross-validate a head: the round goes on
            # without a PPM (its searches use outcome rewards / agreement only).
            evolve.reporter.note(f"round {context.index}: no PPM ({exc})")
            return {"pairs": None, "skipped": str(exc)}


def known_problem_ids(context: RoundContext) -> set[str]:
    """Problems an earlier choice saw: the searches before the newest one, and (in
    round 1) the problems the default PPM's features were selected on."""
    evolve = context.evolve
    problems, dataset, _ = evolve.pool.load()
    seen_by_features = context.index == 1 and dataset == FEATURE_SELECTION[0]
    known = {p.id for p in problems[: FEATURE_SELECTION[1]]} if seen_by_features else set()
    for run_id in evolve.pool_run_ids(context.index - 1):
        known |= evolve.store.done_problem_ids(run_id)
    return known


@dataclass(frozen=True)
class DevSearch(RecordedStage):
    """The round's policy on a held-out test slice, stored as an ordinary run; the MCTS
    one is guided by the round's PPM when it has one."""

    name: str
    limit: int
    search: SearchConfig
    with_ppm: bool

    def run(self, context: RoundContext) -> dict[str, Any]:
        evolve = context.evolve
        dev = evolve.config.dev
        problems, dataset = load_source(dev.benchmark, dev.split)
        scorer = evolve.ppm_spec(context.index) if self.with_ppm else None
        return evaluate_stage(
            context, self.name, problems[: self.limit], dataset, dataset_hash(problems),
            evolve.policy_spec(context.index), self.search, scorer,
        )  # fmt: skip


class PoolSearch(RecordedStage):
    """The next problems of the pool, searched for the next round's data: round 0 by the
    bootstrap model with outcome rewards, later rounds by policy_r with PPM_r's values."""

    name = "pool_search"

    def run(self, context: RoundContext) -> dict[str, Any]:
        evolve, index = context.evolve, context.index
        problems = evolve.pool.problems(index)
        _, dataset, data_hash = evolve.pool.load()
        config = evolve.config
        if index == 0:
            spec, search, scorer = config.bootstrap, config.bootstrap_search, "outcome"
            adopt = config.pool_run
        else:
            spec, search = evolve.policy_spec(index), config.evolved_search
            scorer, adopt = evolve.ppm_spec(index, with_outcome=True), None
        return evaluate_stage(
            context, self.name, problems, dataset, data_hash, spec, search, scorer, adopt
        )


def round_stages(index: int, config: EvolveConfig) -> list[Stage]:
    """Round ``index``'s stages in the order they run."""
    stages: list[Stage] = (
        [BasePolicy()] if index == 0 else [SFTData(), SFT(), Export(), Parity(), RoundPPM()]
    )
    dev = config.dev
    if dev.greedy_limit:
        stages.append(DevSearch("dev_greedy", dev.greedy_limit, dev.greedy, with_ppm=False))
    if dev.mcts_limit:
        stages.append(DevSearch("dev_mcts", dev.mcts_limit, dev.mcts, with_ppm=True))
    if index == 0 or index < config.rounds:
        stages.append(PoolSearch())
    return stages
