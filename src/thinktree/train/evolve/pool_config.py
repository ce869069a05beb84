"""The evolve pools' settings: where each pool's problems come from, how many each round
takes, the run its round 0 adopts, and the dev slice held out beside it.

A pool *reaches* problems ``offset .. offset + size + rounds * grow`` of its source:
round 0 takes the first ``size``, each later round the next ``grow`` (the last round
searches none, so the reach keeps room for one more round). :func:`check_pools`
refuses pools whose reaches overlap on one source and dev slices inside any reach,
so the slices that choose the round are problems no round ever trained on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from thinktree.problems import BENCHMARKS

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class PoolDevSlice(BaseModel):
    """A pool's dev slice: problems ``offset .. offset + size`` of the pool's source, held
    out from every pool (train-side; the test slices stay for reporting). Greedy and sc
    accuracy of each round's policy on it choose the round to ship."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    offset: int = Field(ge=0)
    size: int = Field(100, ge=1)

    @property
    def stop(self) -> int:
        return self.offset + self.size


class PoolConfig(BaseModel):
    """Training problems: a bundled benchmark split or a JSONL file (same mapping as eval)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    benchmark: str | None = "gsm8k"
    split: str | None = "train"
    data: str | None = None
    question_field: str = "question"
    answer_field: str = "answer"
    id_field: str | None = None
    offset: int = Field(0, ge=0)
    size: int = Field(300, ge=1)
    """Problems round 0 searches (offset .. offset + size)."""
    grow: int = Field(100, ge=0)
    """New problems each later round searches, after those of earlier rounds."""
    name: str | None = None
    """What the pool's stages are called after (``pool_search_<name>``,
    ``pool_dev_greedy_<name>``); default: its benchmark, or its data file's name
    without the suffix. Unique among the pools."""
    run: str | None = None
    """An existing run in ``store`` to adopt as this pool's round-0 search (its problems
    are not searched again), e.g. one made with ``thinktree eval --scorer outcome``."""
    dev: PoolDevSlice | None = None
    """The pool's dev slice in its source (see :class:`PoolDevSlice`); None: none."""

    @model_validator(mode="after")
    def _one_source(self) -> PoolConfig:
        if self.data is not None and self.benchmark is not None and self.benchmark != "gsm8k":
            raise ValueError("pool: give either benchmark or data, not both")
        if self.name is not None and not _NAME.fullmatch(self.name):
            raise ValueError(
                f"pool name {self.name!r}: use letters, digits, '_', '.' or '-' (it names stages)"
            )
        return self

    @property
    def label(self) -> str:
        """The pool's name in its stages' names."""
        if self.name is not None:
            return self.name
        if self.data is not None:
            return Path(self.data).stem
        return (self.benchmark or "pool").partition(":")[0]

    @property
    def source(self) -> str:
        """Which problem list the pool's offsets index: ``name:split`` or ``file:PATH``."""
        if self.data is not None:
            return f"file:{self.data}"
        name, _, inline = (self.benchmark or "").partition(":")
        known = BENCHMARKS.get(name)
        split = self.split or inline or (known.default_split if known else "")
        return f"{name}:{split}"

    def bounds(self, round_index: int) -> tuple[int, int]:
        """[start, stop) of the problems round ``round_index`` searches."""
        if round_index == 0:
            return self.offset, self.offset + self.size
        start = self.offset + self.size + (round_index - 1) * self.grow
        return start, start + self.grow

    def reach(self, rounds: int) -> tuple[int, int]:
        """[start, stop) of every problem an evolution of ``rounds`` rounds may search."""
        return self.offset, self.offset + self.size + rounds * self.grow


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def check_pools(pools: Sequence[PoolConfig], rounds: int) -> None:
    """Raise ValueError (one line) for pools sharing a name, pools whose reaches overlap
    on one source, or a dev slice inside any pool's reach."""
    seen: dict[str, int] = {}
    for i, pool in enumerate(pools):
        if pool.label in seen:
            raise ValueError(
                f"pools {seen[pool.label]} and {i} are both called {pool.label!r}; give one a name"
            )
        seen[pool.label] = i
    for i, pool in enumerate(pools):
        for j, other in enumerate(pools):
            if other.source != pool.source:
                continue
            start, stop = other.reach(rounds)
            if j > i and _overlap(pool.reach(rounds), (start, stop)):
                a, b = pool.reach(rounds)
                raise ValueError(
                    f"pools {pool.label!r} ({pool.source}[{a}:{b}]) and {other.label!r} "
                    f"({other.source}[{start}:{stop}]) overlap over {rounds} rounds; "
                    "move one's offset past the other's reach"
                )
            if pool.dev is not None and _overlap((pool.dev.offset, pool.dev.stop), (start, stop)):
                raise ValueError(
                    f"the dev slice of pool {pool.label!r} ({pool.source}[{pool.dev.offset}:"
                    f"{pool.dev.stop}]) overlaps what pool {other.label!r} searches over "
                    f"{rounds} rounds ({other.source}[{start}:{stop}]); move the dev slice "
                    "out of it or shrink the pool"
                )
