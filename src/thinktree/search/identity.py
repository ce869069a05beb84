"""A run's identity: the search fields its fingerprint holds, and how old runs are found.

The harness, the server's recorder and ``rescore`` store a run under the
fingerprint of its data set, model, scorer and this search identity (and store the
identity itself as the run's config), so the same search run again finds, and
resumes, its run. The identity keeps stored runs findable across later changes of
the config, by these rules:

1. It is made of the config resolved for its scorer
   (:func:`thinktree.search.registry.resolved`): a config whose scorer-dependent
   defaults are still open has none (:func:`identity_of` refuses it).
2. It holds the shared fields and the strategy's own options, flat, as a
   :class:`~thinktree.search.config.SearchConfig` dumps them.
3. A strategy without MCTS's options records what every run recorded before
   strategies owned their options: :data:`WITHOUT_OPTIONS` (``c_uct`` 2.0,
   ``unvisited_first`` false).
4. A field added after runs were stored (:data:`FORMER_VALUES`) is left out while its
   value reproduces what those runs did, so they keep their fingerprints.
5. A field the run never reads is left out, whatever its value: those its strategy
   declares (:meth:`~thinktree.search.base.ProblemSearch.unread_fields`: MCTS's
   ``agreement`` with a scorer, ``repeat_answers`` with full expansion), and
   ``settle_token_probability`` under any settle rule but ``"confident"``.
6. ``temperature``: a null temperature stands for the strategy's default. Where that
   default has changed since runs were stored (the strategy's
   ``stored_default_temperature``; MCTS, 0.7 then 1.0), a run at the new default
   names it, and a run at the former default is also looked up under the null
   temperature its stored runs wrote (:func:`stored_aliases`).

Rules 3 and 4 also say which values of another strategy's option leave a run as it
is (:func:`leaves_run_as_is`): the only ones :class:`SearchConfig` accepts for a
strategy that does not read that option.
"""

from __future__ import annotations

from typing import Any

from thinktree.search.options import BaseSearchConfig
from thinktree.search.registry import strategy_class

FORMER_VALUES: dict[str, Any] = {
    "tie_break": "first",
    "resample": 0,
    "invalid_backup": "local",
    "repeat_answers": "drop",
    "agreement": "earlier",
    "settle": "off",
    "expand": "all",
    "settle_m": 3,
    "settle_confidence": 0.95,
    "settle_token_probability": 0.88,
    "cell_prelude": False,
    "step_floor": None,
}
"""Fields added after runs were stored, with the value that reproduces what those
runs did (rule 4)."""

WITHOUT_OPTIONS: dict[str, Any] = {"c_uct": 2.0, "unvisited_first": False}
"""What a run of a strategy that does not own these fields records for them (rule 3)."""


def leaves_run_as_is(name: str, value: Any, default: Any) -> bool:
    """Whether ``value`` of an option a strategy does not read leaves its run as it is:
    the option's default, its former value, or what runs without it record."""
    neutral = [
        default,
        *(table[name] for table in (FORMER_VALUES, WITHOUT_OPTIONS) if name in table),
    ]
    return value in neutral


def identity_of(config: BaseSearchConfig, unread: frozenset[str]) -> dict[str, Any]:
    """Rules 1 to 5 for a resolved ``config`` whose strategy never reads ``unread``."""
    if not config.is_resolved:
        raise ValueError("an unresolved search config has no identity; resolve it first")
    out = {**WITHOUT_OPTIONS, **config.model_dump()}
    if config.settle != "confident":
        unread = unread | {"settle_token_probability"}  # no other rule reads it
    for name in [*FORMER_VALUES, *unread]:
        if name in out and (name in unread or out[name] == FORMER_VALUES[name]):
            del out[name]
    return out


def run_identity(config: BaseSearchConfig, scored: bool) -> dict[str, Any]:
    """The search's part of a run fingerprint, for a search with a scorer (``scored``)
    or without: every rule above."""
    strategy = strategy_class(config.strategy)
    config = strategy.resolve(config, scored)
    identity = identity_of(config, strategy.unread_fields(config, scored))
    former = strategy.stored_default_temperature
    if config.temperature is None and former not in (None, strategy.default_temperature):
        identity["temperature"] = strategy.default_temperature
    return identity


def stored_aliases(config: BaseSearchConfig, scored: bool) -> list[dict[str, Any]]:
    """Other identities that runs of this same search were stored under (rule 6): a run
    made at the strategy's former default temperature wrote it as null, so a search at
    that temperature also finds such a run."""
    strategy = strategy_class(config.strategy)
    former = strategy.stored_default_temperature
    if former is None or config.sampling_temperature(strategy.default_temperature) != former:
        return []
    return [{**run_identity(config, scored), "temperature": None}]
