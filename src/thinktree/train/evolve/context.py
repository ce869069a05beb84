"""What a stage of an evolve round is given: the round's ledger and everything shared.

A stage reaches models only through what :class:`EvolveContext` holds: the
``searcher`` (a search stage's solver) and the ``trainers`` (SFT, export,
parity, PPM, reference conversion). Both are injected, so a test runs any
stage with fakes and the real run store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from thinktree.eval.fanout import SolverHandle
from thinktree.models.policy import PPM_SUBDIR
from thinktree.reward.ppm import is_trained_ppm
from thinktree.search import SearchConfig
from thinktree.store import RunStore
from thinktree.train.evolve.config import EvolveConfig
from thinktree.train.evolve.ledger import RoundLedger
from thinktree.train.evolve.pool import Pool
from thinktree.train.evolve.trainers import Trainers
from thinktree.train.sft.data import Trajectory, read_trajectories
from thinktree.train.sft.training import ADAPTER_DIR

ADAPTER_FILE = "adapter.gguf"

Searcher = Callable[[str, SearchConfig, str | None], AbstractContextManager[SolverHandle]]
"""What a search stage searches with: (model spec, search, scorer spec) -> a solver."""


class EvolveStopped(Exception):
    """The time budget ran out; everything finished so far is stored."""


class Reporter(Protocol):
    def stage(self, round_index: int, name: str, total: int | None) -> None: ...

    def advance(self, done: int, total: int | None = None) -> None: ...

    def note(self, text: str) -> None: ...


class QuietReporter:
    def stage(self, round_index: int, name: str, total: int | None) -> None:
        pass

    def advance(self, done: int, total: int | None = None) -> None:
        pass

    def note(self, text: str) -> None:
        pass


@dataclass(frozen=True)
class Budget:
    """``max_minutes`` as a deadline on ``clock`` (None: no budget)."""

    deadline: float | None
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def of(cls, max_minutes: float | None, clock: Callable[[], float] = time.monotonic) -> Budget:
        return cls(None if max_minutes is None else clock() + 60 * max_minutes, clock)

    def check(self) -> None:
        """Raise :class:`EvolveStopped` once the deadline has passed."""
        if self.deadline is not None and self.clock() >= self.deadline:
            raise EvolveStopped("time budget reached")

    def minutes_left(self) -> float | None:
        if self.deadline is None:
            return None
        return max(0.0, (self.deadline - self.clock()) / 60)


@dataclass(frozen=True)
class EvolvePaths:
    out: Path

    def round_dir(self, index: int) -> Path:
        return self.out / f"round-{index}"

    def ppm_dir(self, index: int) -> Path:
        return self.round_dir(index) / PPM_SUBDIR

    def sft_dir(self, index: int) -> Path:
        return self.round_dir(index) / "sft"

    def peft_dir(self, index: int) -> Path:
        """Where the round's SFT leaves its PEFT adapter (what export and parity read)."""
        return self.sft_dir(index) / ADAPTER_DIR

    def sft_data(self, index: int) -> Path:
        return self.round_dir(index) / "sft.jsonl"

    @property
    def references(self) -> Path:
        return self.out / "references.jsonl"


@dataclass(frozen=True)
class PolicyBase:
    """The embedded model the evolved policy's LoRA is trained over."""

    name: str
    sha256: str


@dataclass
class EvolveContext:
    """Everything the stages of every round share."""

    config: EvolveConfig
    paths: EvolvePaths
    store: RunStore
    pools: Pool | Sequence[Pool]
    """Every pool's loader, in the config's order (a lone Pool: the only pool)."""
    policy: PolicyBase
    searcher: Searcher
    trainers: Trainers
    budget: Budget = field(default_factory=lambda: Budget(None))
    reporter: Reporter = field(default_factory=QuietReporter)

    @property
    def pool_list(self) -> Sequence[Pool]:
        """Every pool's loader, in the config's order."""
        return (self.pools,) if isinstance(self.pools, Pool) else self.pools

    @property
    def pool(self) -> Pool:
        """The first pool (the one reference solutions are converted from)."""
        return self.pool_list[0]

    def ledger(self, index: int) -> RoundLedger | None:
        """Round ``index``'s ledger as stored; None before the round has begun."""
        return RoundLedger.read(self.paths.round_dir(index), index)

    def policy_spec(self, index: int) -> str:
        """What ``--model`` names policy_r: the round's directory (policy.json)."""
        return str(self.paths.round_dir(index))

    def ppm_spec(self, index: int, with_outcome: bool = False) -> str | None:
        """``ppm:OUT/round-r/ppm`` once PPM_r exists (round 0 and rounds whose trees
        held too few pairs have none)."""
        directory = self.paths.ppm_dir(index)
        if index == 0 or not is_trained_ppm(directory):
            return "outcome" if with_outcome else None
        prefix = "ppm+outcome:" if with_outcome else "ppm:"
        return prefix + str(directory)

    def pool_run_ids(self, before: int) -> list[str]:
        """Run ids of every pool's searches of rounds < ``before`` (finished ones), by
        round, then in the order of the pools."""
        ids = []
        for i in range(before):
            ledger = self.ledger(i)
            for pool in self.pool_list:
                if ledger is None or not ledger.done(pool.search_stage):
                    of = f" of {pool.label}" if pool.index else ""
                    raise ValueError(f"round {i}'s pool search{of} is not finished")
                ids.append(ledger.figures(pool.search_stage)["run_id"])
        return ids


@dataclass
class RoundContext:
    """One round as its stages see it: the shared context, its index and ledger."""

    evolve: EvolveContext
    index: int
    ledger: RoundLedger
    trajectories_cache: list[Trajectory] | None = None

    @property
    def directory(self) -> Path:
        return self.evolve.paths.round_dir(self.index)

    def trajectories(self) -> list[Trajectory]:
        """The round's SFT data: as the sft_data stage chose it, or read back from its file."""
        if self.trajectories_cache is None:
            self.trajectories_cache = read_trajectories(self.evolve.paths.sft_data(self.index))
        return self.trajectories_cache


class Stage(Protocol):
    """One step of a round, recorded in the round's ledger under ``name`` when it returns
    figures (a stage that returns None, like round 0's policy file, is not recorded)."""

    name: str
    timed: bool
    """Whether the time budget is checked before it runs."""

    def done(self, ledger: RoundLedger) -> bool:
        """Whether a rerun can skip it: recorded, and its artifacts are in place."""
        ...

    def run(self, context: RoundContext) -> dict[str, Any] | None:
        """Do the stage; its figures for the ledger. Raises EvolveStopped at the budget."""
        ...
