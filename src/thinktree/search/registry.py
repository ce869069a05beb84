"""Strategies by name, and what a name decides before any search runs.

Adding a strategy: a module with a :class:`ProblemSearch` subclass that declares
its own facts (width, estimates, budget field), one line in :data:`STRATEGIES`.
This dict is the only list of strategies: the CLI, the server's model names,
the harness and the reports read it.
"""

from __future__ import annotations

from typing import Any

from thinktree.engines.factory import MIN_SLOTS
from thinktree.search.base import ProblemSearch
from thinktree.search.beam import BeamSearch
from thinktree.search.config import SearchConfig
from thinktree.search.greedy import GreedySearch
from thinktree.search.mcts.search import MCTSSearch
from thinktree.search.sampling import BestOfNSearch, SelfConsistencySearch

STRATEGIES: dict[str, type[ProblemSearch]] = {
    "greedy": GreedySearch,
    "sc": SelfConsistencySearch,
    "best_of_n": BestOfNSearch,
    "beam": BeamSearch,
    "mcts": MCTSSearch,
}

MAX_SLOTS = 16


def strategy_class(name: str) -> type[ProblemSearch]:
    """The strategy registered as ``name``; a one-line ValueError for an unknown name."""
    try:
        return STRATEGIES[name]
    except KeyError:
        choices = ", ".join(sorted(STRATEGIES))
        raise ValueError(f"unknown strategy {name!r}; choose one of {choices}") from None


def strategy_name(strategy: type[ProblemSearch]) -> str:
    """The name ``strategy`` is registered under."""
    for name, registered in STRATEGIES.items():
        if registered is strategy:
            return name
    raise ValueError(f"{strategy.__name__} is not a registered strategy")


def checked(config: SearchConfig) -> SearchConfig:
    """``config`` once its strategy is known to the registry (raises ValueError if not)."""
    strategy_class(config.strategy)
    return config


def width(config: SearchConfig) -> int:
    """Completions one problem of this search asks for at once."""
    return strategy_class(config.strategy).width(config)


def resolved(config: SearchConfig, scored: bool) -> SearchConfig:
    """``config`` with the defaults that depend on the scorer decided, for a search with
    a scorer (``scored``) or without (:meth:`ProblemSearch.resolve`)."""
    return strategy_class(config.strategy).resolve(config, scored)


def run_identity(config: SearchConfig, scored: bool) -> dict[str, Any]:
    """The search's part of a run fingerprint (see :meth:`SearchConfig.identity`)."""
    strategy = strategy_class(config.strategy)
    config = strategy.resolve(config, scored)
    identity = config.identity(strategy.unread_fields(config, scored))
    return {**identity, "temperature": strategy.fingerprint_temperature(config)}


def stored_aliases(config: SearchConfig, scored: bool) -> list[dict[str, Any]]:
    """Other identities that runs of this same search were stored under: a run made at
    the strategy's former default temperature wrote it as null, so a search at that
    temperature also finds such a run."""
    strategy = strategy_class(config.strategy)
    former = strategy.stored_default_temperature
    if former is None or config.sampling_temperature(strategy.default_temperature) != former:
        return []
    return [{**run_identity(config, scored), "temperature": None}]


def default_slots(config: SearchConfig) -> int:
    """Engine slots for a search: room for one problem's siblings, at least 4, at most 16."""
    return max(MIN_SLOTS, min(MAX_SLOTS, width(config)))


def default_window(config: SearchConfig, slots: int) -> int:
    """Problems searched in lock step: as many as fill the slots with their siblings.

    Problems beyond that would queue on the slots: measured on 2 cores
    (BENCHMARKS.md, MCTS k = 3), 4 problems on 4 slots ran at 17.8 tok/s against
    24.0 for one problem on 3 slots, the queued siblings evicting each other's
    prefixes. So the window is ``slots // width`` (at least 1). Giving every
    sibling of 4 problems its own slot (12) was faster again, 26.5 tok/s, at three
    times the KV-cache memory; ``--parallel``/``--window`` choose that layout.
    """
    return max(1, slots // width(config))
