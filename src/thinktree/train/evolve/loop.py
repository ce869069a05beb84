"""``thinktree evolve``: self-evolution rounds (rStar-Math's loop, scaled to a CPU).

Round 0: the bootstrap model (default: the 1.5B, few-shot) runs MCTS with
outcome rewards on each pool's first problems (or a pool adopts a stored run); the
policy being evolved (default: the 0.5B; the 1.5B evolves itself with ``policy:
default``) is measured as it is, before any training.

Round r ≥ 1, in order, each stage recorded in ``OUT/round-r/manifest.json``:

1. ``sft_data``: per problem the top trajectories by mean Q, then minimum Q,
   correct and error-free, from the searches of every pool in all earlier rounds
   (:mod:`thinktree.train.sft.data`), plus converted reference solutions when
   ``reference.enabled``;
2. ``sft``: LoRA fine-tuning of the policy from its base on all of that data
   (:mod:`thinktree.train.sft.training`), zero-shot format, prompt and sandbox outputs
   masked, 2 epochs, resumable by checkpoints;
3. ``export``: the adapter as a llama.cpp GGUF adapter over the unchanged
   base file, and ``policy.json``, so ``--model OUT/round-r`` serves it;
4. ``parity``: teacher-forced next-token agreement of the PEFT model and
   llama.cpp with the adapter on held-out trajectories, against llama.cpp
   without it;
5. ``ppm``: PPM_r trained on the pairs of all trees so far; its pairwise
   accuracy on the pairs of the newest search's new problems is measured by a
   PPM fitted without them (``ppm_pairwise_new``);
6. ``dev_greedy`` / ``dev_mcts``: greedy accuracy and MCTS accuracy of
   policy_r (with PPM_r) on held-out test slices, stored as ordinary runs
   (``dev_greedy_<benchmark>``... for ``dev.also``'s further slices); then
   ``pool_dev_greedy_<pool>`` / ``pool_dev_sc_<pool>``: greedy and sc@4 on each
   pool's dev slice (train-side, held out from every pool), which choose the round;
7. ``pool_search`` (``pool_search_<pool>`` for every pool after the first):
   policy_r searches the pool's next ``grow`` new problems with PPM_r's step
   values and outcome rewards at the answers (``ppm+outcome``), giving the next
   round its data (skipped in the last round).

Rerunning the same command continues where it stopped: finished stages are
read from the ledger, searches resume from the run store, SFT from its newest
complete checkpoint. ``max_minutes`` stops cleanly between (or inside) stages.

The stages are objects (:mod:`thinktree.train.evolve.stages`); this module runs
them in order, skipping the done ones, and turns the ledgers into summary rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from thinktree.eval.metrics import pairwise
from thinktree.models import find_embedded
from thinktree.store import RunStore
from thinktree.train.evolve.config import EvolveConfig
from thinktree.train.evolve.context import (
    Budget,
    EvolveContext,
    EvolvePaths,
    PolicyBase,
    QuietReporter,
    Reporter,
    RoundContext,
    Searcher,
)
from thinktree.train.evolve.figures import round_row
from thinktree.train.evolve.ledger import RoundLedger
from thinktree.train.evolve.pool import Pool
from thinktree.train.evolve.searching import EngineSearcher, RecipeMaker, RuntimeOpener
from thinktree.train.evolve.stages import round_stages
from thinktree.train.evolve.trainers import Trainers, default_trainers


class Evolution:
    """One evolve directory: its config, store and rounds.

    ``searcher`` and ``trainers`` replace the model work (tests pass fakes); by
    default searches run on llama.cpp (``runtime_opener``) or Ray workers
    (``worker_recipe``), and training is the real SFT, export, parity and PPM.
    ``clock`` is what ``max_minutes`` is measured on."""

    def __init__(
        self,
        config: EvolveConfig,
        out: str | Path,
        reporter: Reporter | None = None,
        runtime_opener: RuntimeOpener | None = None,
        worker_recipe: RecipeMaker | None = None,
        *,
        searcher: Searcher | None = None,
        trainers: Trainers | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.paths = EvolvePaths(Path(out))
        self.paths.out.mkdir(parents=True, exist_ok=True)
        self.reporter = reporter or QuietReporter()
        self.store_path = Path(config.store) if config.store else self.paths.out / "runs.db"
        self.budget = Budget.of(config.max_minutes, clock)
        policy = find_embedded(config.policy)
        if policy is None:
            raise ValueError(
                f"policy {config.policy!r} is not an embedded model; the evolved policy's LoRA "
                "is trained over an embedded model's GGUF (fast or default)"
            )
        self.policy = PolicyBase(policy.name, policy.sha256)
        self.searcher = searcher or EngineSearcher(config, runtime_opener, worker_recipe)
        self.trainers = trainers or default_trainers(config, policy.name, policy.sha256)
        self.pools = tuple(Pool(pool, i) for i, pool in enumerate(config.pools))

    @contextmanager
    def _context(self) -> Iterator[EvolveContext]:
        with RunStore(self.store_path) as store:
            self.store = store
            yield EvolveContext(
                self.config, self.paths, store, self.pools, self.policy, self.searcher,
                self.trainers, self.budget, self.reporter,
            )  # fmt: skip

    def run(self) -> list[dict[str, Any]]:
        """Run (or resume) rounds 0..R; returns every round's figures."""
        with self._context() as context:
            for index in range(self.config.rounds + 1):
                self._round(context, index)
            return [self.round_figures(i) for i in range(self.config.rounds + 1)]

    def summary(self) -> list[dict[str, Any]]:
        """Every round's figures as stored so far (None where a stage has not run)."""
        with self._context():
            return [self.round_figures(i) for i in range(self.config.rounds + 1)]

    def _round(self, context: EvolveContext, index: int) -> None:
        ledger = RoundLedger.open(
            self.paths.round_dir(index),
            index,
            {
                "parent": index - 1 if index > 0 else None,
                "config": self.config.model_dump(mode="json"),
                "policy_base": self.policy.name,
                "base_model_sha256": self.policy.sha256,
            },
        )
        round_context = RoundContext(context, index, ledger)
        for stage in round_stages(index, self.config):
            if stage.done(ledger):
                continue
            if stage.timed:
                self.budget.check()
            figures = stage.run(round_context)
            if figures is not None:
                ledger.finish(stage.name, figures)

    def round_figures(self, index: int) -> dict[str, Any]:
        """One row of the summary (None where a stage has not run)."""
        ledger = RoundLedger.read(self.paths.round_dir(index), index)
        stages: dict[str, Any] = ledger.data["stages"] if ledger else {}
        row = round_row(index, stages, self.config)
        if index > 0 and "dev_greedy" in stages:
            base = RoundLedger.read(self.paths.round_dir(0), 0)
            if base is not None and base.done("dev_greedy"):
                row["dev_greedy_vs_round0"] = self.compare_runs(
                    base.figures("dev_greedy")["run_id"], stages["dev_greedy"]["run_id"]
                )
        return row

    def compare_runs(self, base_run: str, run: str) -> dict[str, Any]:
        """Problems won and lost by ``run`` against ``base_run``, with the sign test."""
        return pairwise(self.store.results(run), self.store.results(base_run))
