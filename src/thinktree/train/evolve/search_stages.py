"""The search stages of an evolve round: dev figures on test slices, the pools' dev
slices (which choose the round) and the pool searches (the next round's data).

Each is one stored evaluation run (:func:`thinktree.train.evolve.searching.evaluate_stage`),
resumed from the run store after a kill.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from thinktree.problems import dataset_hash, load_source
from thinktree.search import SearchConfig
from thinktree.train.evolve.context import RoundContext
from thinktree.train.evolve.ledger import RoundLedger
from thinktree.train.evolve.searching import evaluate_stage


@dataclass(frozen=True)
class SearchStage:
    """A stage that is done once the ledger records it (its run is in the store)."""

    name: str
    timed = True

    def done(self, ledger: RoundLedger) -> bool:
        return ledger.done(self.name)


@dataclass(frozen=True)
class DevSearch(SearchStage):
    """The round's policy on a held-out test slice, stored as an ordinary run; the MCTS
    one is guided by the round's PPM when it has one."""

    benchmark: str
    split: str | None
    limit: int
    search: SearchConfig
    with_ppm: bool

    def run(self, context: RoundContext) -> dict[str, Any]:
        evolve = context.evolve
        problems, dataset = load_source(self.benchmark, self.split)
        scorer = evolve.ppm_spec(context.index) if self.with_ppm else None
        return evaluate_stage(
            context, self.name, problems[: self.limit], dataset, dataset_hash(problems),
            evolve.policy_spec(context.index), self.search, scorer,
        )  # fmt: skip


@dataclass(frozen=True)
class PoolDevSearch(SearchStage):
    """The round's policy, unscored, on a pool's dev slice: train-side problems held out
    from every pool, whose greedy and sc figures choose the round."""

    pool_index: int
    search: SearchConfig

    def run(self, context: RoundContext) -> dict[str, Any]:
        evolve = context.evolve
        pool = evolve.pool_list[self.pool_index]
        _, dataset, data_hash = pool.load()
        return evaluate_stage(
            context, self.name, pool.dev_problems(), dataset, data_hash,
            evolve.policy_spec(context.index), self.search, None,
        )  # fmt: skip


@dataclass(frozen=True)
class PoolSearch(SearchStage):
    """A pool's next problems, searched for the next round's data: round 0 by the
    bootstrap model with outcome rewards (or the pool's adopted ``run``), later rounds
    by policy_r with PPM_r's values."""

    pool_index: int

    def run(self, context: RoundContext) -> dict[str, Any]:
        evolve, index = context.evolve, context.index
        pool = evolve.pool_list[self.pool_index]
        problems = pool.problems(index)
        _, dataset, data_hash = pool.load()
        config = evolve.config
        if index == 0:
            spec, search, scorer = config.bootstrap, config.bootstrap_search, "outcome"
            adopt = pool.config.run
        else:
            spec, search = evolve.policy_spec(index), config.evolved_search
            scorer, adopt = evolve.ppm_spec(index, with_outcome=True), None
        return evaluate_stage(
            context, self.name, problems, dataset, data_hash, spec, search, scorer, adopt
        )
