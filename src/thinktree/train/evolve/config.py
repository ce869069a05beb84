"""The one typed configuration of ``thinktree evolve``: a YAML file, flags override it.

Every field has a default scaled for a 2-core CPU with rStar-Math's shape:
round 0 searches the pool with the default 1.5B (few-shot, outcome rewards);
later rounds search new problems with the evolved 0.5B (zero-shot, its PPM's
values). Searches take SearchConfig's MCTS defaults (temperature 1.0, random
ties since issue 18); benchmarks/recipes/evolve/config.yaml pins the dev and evolved searches
its figures were measured with (first-child ties; dev MCTS at 0.7) and adopts
its round 0 by run name. benchmarks/recipes/evolve_default/config.yaml evolves the
1.5B itself over two pools (gsm8k and MATH train), each with its dev slice.

Pools: ``pools`` lists them; a config with one pool may still say ``pool`` and
``pool_run`` (the form before several pools), which load into the same config, and
the ``--pool-*`` flags set the first pool.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from thinktree.eval.fanout.config import FanoutConfig
from thinktree.search.config import SearchConfig
from thinktree.search.greedy import GreedySearch
from thinktree.search.mcts.search import MCTSSearch
from thinktree.search.registry import checked, strategy_name
from thinktree.search.sampling import SelfConsistencySearch
from thinktree.train.evolve.pool_config import PoolConfig, PoolDevSlice, check_pools
from thinktree.train.ppm.head import HeadConfig
from thinktree.train.ppm.lm.config import LMPPMConfig
from thinktree.train.sft.training import SFTConfig

MCTS = strategy_name(MCTSSearch)
"""The searches that give training data: their trees hold the pairs and trajectories."""
GREEDY = strategy_name(GreedySearch)
SC = strategy_name(SelfConsistencySearch)

__all__ = ["DevConfig", "DevSlice", "EvolveConfig", "PoolConfig", "PoolDevSlice",
           "load_evolve_config"]  # fmt: skip


def _mcts(**fields: Any) -> SearchConfig:
    return SearchConfig(strategy=MCTS, samples=4, k=3, **fields)


class DevSlice(BaseModel):
    """A further test slice of the dev figures (reporting only, like ``dev``'s own)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    benchmark: str
    split: str | None = None
    greedy_limit: int = Field(100, ge=0)
    mcts_limit: int = Field(0, ge=0)

    @property
    def label(self) -> str:
        return self.benchmark.partition(":")[0]


class DevConfig(BaseModel):
    """Held-out figures after every round: greedy and MCTS accuracy on test slices."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    benchmark: str = "gsm8k"
    split: str = "test"
    greedy_limit: int = Field(100, ge=0)
    mcts_limit: int = Field(50, ge=0)
    greedy: SearchConfig = Field(default_factory=lambda: SearchConfig(strategy=GREEDY))
    mcts: SearchConfig = Field(default_factory=lambda: _mcts(expand="all"))
    """Full expansion in every round: round 0 has no PPM yet, and without a scorer MCTS
    would expand lazily, so its figures would not compare with later rounds'."""
    also: list[DevSlice] = Field(default_factory=list)
    """Further test slices measured after every round with ``greedy`` and ``mcts``
    (e.g. ``{benchmark: math500, greedy_limit: 100}``), as stages
    ``dev_greedy_<benchmark>`` and ``dev_mcts_<benchmark>``."""
    sc: SearchConfig = Field(default_factory=lambda: SearchConfig(strategy=SC, samples=4))
    """The search beside ``greedy`` on the pools' dev slices (``pools[i].dev``): sc@4."""

    @field_validator("also")
    @classmethod
    def _named_once(cls, slices: list[DevSlice]) -> list[DevSlice]:
        labels = [s.label for s in slices]
        twice = sorted({label for label in labels if labels.count(label) > 1})
        if twice:
            raise ValueError(f"two slices of {twice[0]}; a stage is named by its benchmark")
        return slices


class ReferenceConfig(BaseModel):
    """Converted reference solutions (GSM8K's calculator annotations) as extra SFT data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = False
    problems: int | None = Field(None, ge=1)
    """How many problems of the first pool's source to convert (from its offset); None:
    its ``size``."""


class EngineSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    parallel: int | None = Field(None, ge=1)
    """llama.cpp slots (default: room for one problem's siblings, at least 4)."""
    window: int | None = Field(None, ge=1)
    threads: int = Field(0, ge=0)


class EvolveConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rounds: int = Field(2, ge=0, le=32)
    """Rounds after round 0: 2 means rounds 0, 1 and 2."""
    policy: str = "fast"
    """The embedded model being evolved, whose LoRA is trained over its own GGUF:
    fast (the 0.5B) or default (the 1.5B)."""
    bootstrap: str = "base"
    """Round 0's searcher: an embedded model or a .gguf path; base (the untouched 1.5B)
    stays the same model after an evolved 1.5B ships as default. The policy's own model
    (policy and bootstrap both the 1.5B) makes round 0 the policy's own search."""
    pool: PoolConfig = Field(default_factory=PoolConfig, exclude=True)
    """The first pool, as a config with one pool says it (with ``pool_run``); always
    equal to ``pools[0]``, which is what the stages read."""
    pool_run: str | None = Field(None, exclude=True)
    """An existing run in ``store`` to adopt as round 0's pool search (its problems
    are not searched again), e.g. one made with ``thinktree eval --scorer outcome``."""
    pools: list[PoolConfig] = Field(default_factory=lambda: [PoolConfig()], min_length=1)
    """The training problems, each pool searched on its own: round 0 searches each
    pool's first ``size`` problems (or adopts its ``run``), each later round its next
    ``grow``; SFT and the PPM take the trees of every pool. No two pools' reaches
    overlap, and no dev slice lies in one (:func:`check_pools`)."""
    bootstrap_search: SearchConfig = Field(default_factory=_mcts)
    """Round 0: MCTS 4 rollouts, k = 3, SearchConfig's defaults otherwise: the settings
    of `thinktree eval --strategy mcts --scorer outcome`, so such a run is found."""
    evolved_search: SearchConfig = Field(default_factory=lambda: _mcts(temperature=1.0))
    sft: SFTConfig = Field(default_factory=SFTConfig)
    ppm_kind: Literal["features", "lm"] = "features"
    """The round's PPM: features (MLP heads on handcrafted features, ``ppm``; seconds to
    train) or lm (a LoRA that answers yes or no, ``lm_ppm``; hours on a CPU, stopped
    and resumed at the round's deadline like SFT)."""
    ppm: HeadConfig = Field(default_factory=HeadConfig)
    lm_ppm: LMPPMConfig = Field(default_factory=LMPPMConfig)
    """The LM PPM's settings where ``ppm_kind`` is lm (``thinktree ppm train --kind lm``'s)."""
    dev: DevConfig = Field(default_factory=DevConfig)
    reference: ReferenceConfig = Field(default_factory=ReferenceConfig)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    fanout: FanoutConfig = Field(default_factory=FanoutConfig)
    """Search stages (pool searches, dev evals) on Ray workers: ``fanout.ray`` (auto or an
    address) and ``fanout.workers``; each worker runs its own llama.cpp with
    ``engine.threads`` threads. Training stages stay in this process."""
    parity_positions: int = Field(256, ge=8)
    """Teacher-forced positions compared between PEFT and llama.cpp after each export."""
    per_problem: int = Field(2, ge=1)
    """Trajectories kept per problem for SFT (rStar: top 2 by mean Q, then min Q)."""
    store: str | None = None
    """Run store; default ``OUT/runs.db``."""
    max_minutes: float | None = Field(None, gt=0)
    """Stop cleanly after this long (a rerun resumes)."""

    @model_validator(mode="before")
    @classmethod
    def _one_pool_spelling(cls, data: Any) -> Any:
        """``pool`` and ``pool_run`` (one pool) or ``pools``; each spelling is filled from
        the other once the given one is valid (an invalid one is reported where written)."""
        if not isinstance(data, dict):
            return data
        single = "pool" in data or "pool_run" in data
        if single and "pools" in data:
            raise ValueError("give pools, or pool and pool_run (a single pool), not both")
        if single:
            pool = data.get("pool", {})
            fields = pool.model_dump() if isinstance(pool, PoolConfig) else pool
            if not isinstance(fields, dict):
                return data
            if data.get("pool_run") is not None:
                fields = {**fields, "run": data["pool_run"]}
            first = _valid_pool(fields)
            pools = None if first is None else [first]
        else:
            pools = data.get("pools")
            first = _valid_pool(pools[0]) if isinstance(pools, list) and pools else None
        if first is None:
            return data
        return {**data, "pool": first, "pool_run": first.run, "pools": pools}

    @field_validator("pools")
    @classmethod
    def _pools_apart(cls, pools: list[PoolConfig], info: ValidationInfo) -> list[PoolConfig]:
        if "rounds" in info.data:
            check_pools(pools, info.data["rounds"])
        return pools

    @model_validator(mode="after")
    def _searches_are_mcts(self) -> EvolveConfig:
        dev = self.dev
        for search in (self.bootstrap_search, self.evolved_search, dev.greedy, dev.mcts, dev.sc):
            checked(search)
        for name in ("bootstrap_search", "evolved_search"):
            if getattr(self, name).strategy != MCTS:
                raise ValueError(f"{name}.strategy must be {MCTS} (trees give the training data)")
        return self


def _valid_pool(fields: Any) -> PoolConfig | None:
    if isinstance(fields, PoolConfig):
        return fields
    try:
        return PoolConfig.model_validate(fields)
    except ValidationError:
        return None


def _routed(key: str, data: dict[str, Any]) -> str:
    """``key`` as the config's spelling needs it: in a config that lists ``pools``, the
    single-pool keys (``--pool-size``, ``--pool-run``) set the first pool."""
    if "pools" not in data:
        return key
    if key == "pool_run":
        return "pools.0.run"
    return "pools.0." + key.removeprefix("pool.") if key.startswith("pool.") else key


def _set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``dotted`` (``sft.epochs``, ``pools.1.size``: a number indexes a list; one
    past the end appends) in ``data``, making the mappings on the way."""
    keys = dotted.split(".")
    node: Any = data
    for depth, key in enumerate(keys):
        slot: str | int = key
        if isinstance(node, list):
            if not key.isdigit() or int(key) > len(node):
                where = ".".join(keys[:depth])
                raise ValueError(
                    f"evolve config: {dotted}: {where} has {len(node)} entries, numbered from 0"
                )
            slot = int(key)
            if slot == len(node):
                node.append({})
        if depth == len(keys) - 1:
            node[slot] = value
            return
        child = node[slot] if isinstance(node, list) else node.get(slot)
        if not isinstance(child, dict | list):
            child = {}
            node[slot] = child
        node = child


def load_evolve_config(
    path: str | Path | None, overrides: dict[str, Any] | None = None
) -> EvolveConfig:
    """The YAML file (if any) with ``overrides`` (dotted keys) applied, validated once.

    Raises ValueError with one line naming the field for anything invalid."""
    data: dict[str, Any] = {}
    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise ValueError(f"config file {file} does not exist")
        try:
            loaded = yaml.safe_load(file.read_text())
        except yaml.YAMLError as exc:
            detail = " ".join(str(exc).split())
            raise ValueError(f"{file} is not valid YAML ({detail})") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ValueError(f"{file} must hold a mapping of options, not {type(loaded).__name__}")
        data = loaded or {}
    for key, value in (overrides or {}).items():
        _set_path(data, _routed(key, data), value)
    try:
        return EvolveConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise ValueError(f"evolve config: {where}: {first['msg']}") from exc
