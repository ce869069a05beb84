"""The one typed configuration of ``thinktree evolve``: a YAML file, flags override it.

Every field has a default scaled for a 2-core CPU with rStar-Math's shape:
round 0 searches the pool with the default 1.5B (few-shot, outcome rewards);
later rounds search new problems with the evolved 0.5B (zero-shot, its PPM's
values). Searches take SearchConfig's MCTS defaults (temperature 1.0, random
ties since issue 18); benchmarks/recipes/evolve/config.yaml pins the dev and evolved searches
its figures were measured with (first-child ties; dev MCTS at 0.7) and adopts
its round 0 by run name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from thinktree.eval.fanout.config import FanoutConfig
from thinktree.search.config import SearchConfig
from thinktree.search.greedy import GreedySearch
from thinktree.search.mcts.search import MCTSSearch
from thinktree.search.registry import checked, strategy_name
from thinktree.train.ppm.head import HeadConfig
from thinktree.train.sft.training import SFTConfig

MCTS = strategy_name(MCTSSearch)
"""The searches that give training data: their trees hold the pairs and trajectories."""
GREEDY = strategy_name(GreedySearch)


def _mcts(**fields: Any) -> SearchConfig:
    return SearchConfig(strategy=MCTS, samples=4, k=3, **fields)


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

    @model_validator(mode="after")
    def _one_source(self) -> PoolConfig:
        if self.data is not None and self.benchmark is not None and self.benchmark != "gsm8k":
            raise ValueError("pool: give either benchmark or data, not both")
        return self

    def bounds(self, round_index: int) -> tuple[int, int]:
        """[start, stop) of the problems round ``round_index`` searches."""
        if round_index == 0:
            return self.offset, self.offset + self.size
        start = self.offset + self.size + (round_index - 1) * self.grow
        return start, start + self.grow


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


class ReferenceConfig(BaseModel):
    """Converted reference solutions (GSM8K's calculator annotations) as extra SFT data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = False
    problems: int | None = Field(None, ge=1)
    """How many pool-source problems to convert (from ``pool.offset``); None: the pool."""


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
    """The embedded model being evolved (its LoRA is trained from this base)."""
    bootstrap: str = "default"
    """Round 0's searcher: an embedded model or a .gguf path."""
    pool: PoolConfig = Field(default_factory=PoolConfig)
    pool_run: str | None = None
    """An existing run in ``store`` to adopt as round 0's pool search (its problems
    are not searched again), e.g. one made with ``thinktree eval --scorer outcome``."""
    bootstrap_search: SearchConfig = Field(default_factory=_mcts)
    """Round 0: MCTS 4 rollouts, k = 3, SearchConfig's defaults otherwise: the settings
    of `thinktree eval --strategy mcts --scorer outcome`, so such a run is found."""
    evolved_search: SearchConfig = Field(default_factory=lambda: _mcts(temperature=1.0))
    sft: SFTConfig = Field(default_factory=SFTConfig)
    ppm: HeadConfig = Field(default_factory=HeadConfig)
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

    @model_validator(mode="after")
    def _searches_are_mcts(self) -> EvolveConfig:
        for search in (self.bootstrap_search, self.evolved_search, self.dev.greedy, self.dev.mcts):
            checked(search)
        for name in ("bootstrap_search", "evolved_search"):
            if getattr(self, name).strategy != MCTS:
                raise ValueError(f"{name}.strategy must be {MCTS} (trees give the training data)")
        return self


def _set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = data
    for key in keys[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[keys[-1]] = value


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
        _set_path(data, key, value)
    try:
        return EvolveConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise ValueError(f"evolve config: {where}: {first['msg']}") from exc
