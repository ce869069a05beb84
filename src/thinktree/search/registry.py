"""Strategies by name, and what a name decides before any search runs.

Adding a strategy: a module with a :class:`ProblemSearch` subclass that declares
its own facts (options model, settle rules, scorer, width, estimates, budget
field), one line in :data:`STRATEGIES`. This dict is the only list of strategies:
the config's routing of options, the CLI, the server's model names, the harness,
run identities (:mod:`thinktree.search.identity`) and the reports and run pages
(:func:`run_label`) read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from thinktree.engines.factory import MIN_SLOTS
from thinktree.search.base import ProblemSearch
from thinktree.search.beam import BeamSearch
from thinktree.search.chat_cot import ChatCotSearch
from thinktree.search.greedy import GreedySearch
from thinktree.search.mcts.search import MCTSSearch
from thinktree.search.options import BaseSearchConfig, StrategyOptions
from thinktree.search.sampling import BestOfNSearch, SelfConsistencySearch

STRATEGIES: dict[str, type[ProblemSearch]] = {
    "greedy": GreedySearch,
    "sc": SelfConsistencySearch,
    "best_of_n": BestOfNSearch,
    "beam": BeamSearch,
    "mcts": MCTSSearch,
    "chat_cot": ChatCotSearch,
}

DEFAULT_STRATEGY = "greedy"
"""The strategy of a config that names none."""

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


def is_strategy(name: str, strategy: type[ProblemSearch]) -> bool:
    """Whether the strategy registered as ``name`` is ``strategy`` (or a subclass of
    it): what code asks of a (stored) run's strategy instead of comparing its name.
    False for a name no longer registered."""
    registered = STRATEGIES.get(name)
    return registered is not None and issubclass(registered, strategy)


def budget_field(name: str) -> str | None:
    """The config field that sizes a (stored) search of strategy ``name``
    (:attr:`ProblemSearch.budget_field`); None for a search of fixed size. A strategy
    no longer registered is sized by ``samples``, as every sized one has been."""
    registered = STRATEGIES.get(name)
    return "samples" if registered is None else registered.budget_field


Config = TypeVar("Config", bound=BaseSearchConfig)


def checked(config: Config) -> Config:
    """``config`` once its strategy is known to the registry (raises ValueError if not)."""
    strategy_class(config.strategy)
    return config


def options_models() -> list[type[StrategyOptions]]:
    """The options models of the registered strategies, each once, in registry order."""
    models: list[type[StrategyOptions]] = []
    for strategy in STRATEGIES.values():
        if strategy.options_model is not StrategyOptions and strategy.options_model not in models:
            models.append(strategy.options_model)
    return models


def owners(field: str) -> list[str]:
    """The strategies whose own options hold ``field``."""
    return [name for name, s in STRATEGIES.items() if field in s.options_model.model_fields]


def settling(rule: str) -> list[str]:
    """The strategies that honour the settle rule ``rule``."""
    return [name for name, s in STRATEGIES.items() if rule in s.settle_rules]


def width(config: BaseSearchConfig) -> int:
    """Completions one problem of this search asks for at once."""
    return strategy_class(config.strategy).width(config)


def resolved(config: Config, scored: bool) -> Config:
    """``config`` with the defaults that depend on the scorer decided, for a search with
    a scorer (``scored``) or without (:meth:`ProblemSearch.resolve`)."""
    return strategy_class(config.strategy).resolve(config, scored)  # type: ignore[return-value]


def budget_label(strategy: str, search: Mapping[str, Any]) -> str:
    """The size of a (stored) search as its run name and label show it: the value of its
    strategy's :func:`budget_field` (``"4"``), or nothing for a search of fixed size."""
    budget = budget_field(strategy)
    return "" if budget is None or search.get(budget) is None else str(search[budget])


def run_label(strategy: str, search: Mapping[str, Any], scorer: str | None = None) -> str:
    """A run's label in reports and on the runs page: its strategy, its size and its
    scorer's kind, ``mcts@4+ppm``, ``sc@8``, ``greedy``."""
    size = budget_label(strategy, search)
    label = f"{strategy}@{size}" if size else strategy
    if scorer not in (None, "none", ""):
        label += "+" + str(scorer).split(":")[0]
    return label


def default_slots(config: BaseSearchConfig) -> int:
    """Engine slots for a search: room for one problem's siblings, at least 4, at most 16."""
    return max(MIN_SLOTS, min(MAX_SLOTS, width(config)))


def default_window(config: BaseSearchConfig, slots: int) -> int:
    """Problems searched in lock step: as many as fill the slots with their siblings.

    Problems beyond that would queue on the slots: measured on 2 cores
    (BENCHMARKS.md, MCTS k = 3), 4 problems on 4 slots ran at 17.8 tok/s against
    24.0 for one problem on 3 slots, the queued siblings evicting each other's
    prefixes. So the window is ``slots // width`` (at least 1). Giving every
    sibling of 4 problems its own slot (12) was faster again, 26.5 tok/s, at three
    times the KV-cache memory; ``--parallel``/``--window`` choose that layout.
    """
    return max(1, slots // width(config))
