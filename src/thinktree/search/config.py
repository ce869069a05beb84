"""The one typed configuration of a search, validated in one place."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SearchConfig(BaseModel):
    """Every knob of every strategy; a strategy reads the fields it needs.

    ``samples`` is N for ``sc``/``best_of_n``, the number of rollouts for
    ``mcts`` and the number of beams kept for ``beam``; ``k`` is the number of
    candidate steps sampled per expansion (``mcts``, ``beam``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: str = "greedy"
    samples: int = Field(4, ge=1, le=1024)
    k: int = Field(3, ge=1, le=64)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    """None: 0 for greedy, 0.7 for sampling strategies."""
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_step_tokens: int = Field(256, ge=8, le=4096)
    max_steps: int = Field(8, ge=1, le=64)
    max_tokens: int | None = Field(None, ge=1)
    """Generated-token budget per problem; None = unlimited."""
    max_seconds: float | None = Field(None, gt=0)
    """Wall-clock budget per problem; None = unlimited."""
    c_uct: float = Field(2.0, ge=0.0)
    unvisited_first: bool = False
    """Classic UCT (expand unvisited children first) instead of rStar's rule."""
    errors_threshold: int = Field(2, ge=1)
    exec_timeout: float = Field(10.0, gt=0)
    seed: int = 0
    logprobs: bool = True
    """Record each step's mean token log-probability (a few per cent of speed)."""

    @model_validator(mode="after")
    def _known_strategy(self) -> SearchConfig:
        from thinktree.search.registry import STRATEGIES

        if self.strategy not in STRATEGIES:
            raise ValueError(
                f"unknown strategy {self.strategy!r}; choose one of {', '.join(sorted(STRATEGIES))}"
            )
        return self

    def sampling_temperature(self, default: float) -> float:
        return default if self.temperature is None else self.temperature

    @property
    def width(self) -> int:
        """Completions one problem asks for at once (the siblings of one round)."""
        if self.strategy in ("sc", "best_of_n"):
            return self.samples
        if self.strategy == "mcts":
            return self.k
        if self.strategy == "beam":
            return self.samples * self.k
        return 1


def default_slots(config: SearchConfig) -> int:
    """Engine slots for a search: room for one problem's siblings, at least 4, at most 16."""
    return max(4, min(16, config.width))


def default_window(config: SearchConfig, slots: int) -> int:
    """Problems searched in lock step: as many as fill the slots with their siblings.

    Problems beyond that would queue on the slots: measured on 2 cores
    (BENCHMARKS.md, MCTS k = 3), 4 problems on 4 slots ran at 17.8 tok/s against
    24.0 for one problem on 3 slots, the queued siblings evicting each other's
    prefixes. So the window is ``slots // width`` (at least 1). Giving every
    sibling of 4 problems its own slot (12) was faster again, 26.5 tok/s, at three
    times the KV-cache memory; ``--parallel``/``--window`` choose that layout.
    """
    return max(1, slots // config.width)
