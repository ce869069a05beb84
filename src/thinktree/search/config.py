"""The one typed configuration of a search, built from flat field names in one place.

A search is the fields every strategy reads
(:class:`~thinktree.search.options.BaseSearchConfig`) and the strategy's own
options (its ``options_model``: MCTS's in :mod:`thinktree.search.mcts.options`,
sc's ``step_floor`` in :mod:`thinktree.search.sampling`). Users, the YAML of
``thinktree evolve``, the server and the command line name them all flat:
``SearchConfig(strategy="mcts", samples=8, c_uct=1.0)``. :class:`SearchConfig`
routes each flat name to the model that owns it, validates it there, and dumps
itself flat again, so a dump builds the same config.

A field of another strategy's options is refused in one line unless its value
leaves the run as it is (its default, or a value stored runs of any strategy hold:
:func:`thinktree.search.identity.leaves_run_as_is`), so configs written out whole
(``benchmarks/evolve.yaml``'s greedy dev search names MCTS's fields) still load; a
settle rule the strategy does not honour is refused likewise.

Every field carries its help text as a docstring (pydantic reads attribute
docstrings), so the command line (:mod:`thinktree.cli.options`) and the Python API
are generated from, and documented by, these models alone. Where each default comes
from is in BENCHMARKS.md, "Why each search default is what it is".
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    ModelWrapValidatorHandler,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from thinktree.search.identity import leaves_run_as_is
from thinktree.search.options import BaseSearchConfig
from thinktree.search.registry import (
    DEFAULT_STRATEGY,
    STRATEGIES,
    owners,
    settling,
    strategy_class,
)

SHARED = frozenset(BaseSearchConfig.model_fields) - {"options"}


class SearchConfig(BaseSearchConfig):
    """A search: the shared fields and the strategy's own ``options``, named flat."""

    strategy: str = DEFAULT_STRATEGY
    """The search strategy: a name registered in thinktree.search.registry."""

    @model_validator(mode="wrap")
    @classmethod
    def _route(cls, data: Any, handler: ModelWrapValidatorHandler[SearchConfig]) -> SearchConfig:
        """Route flat names into the strategy's options; refuse what it does not read."""
        name = data.get("strategy", DEFAULT_STRATEGY) if isinstance(data, dict) else None
        if not isinstance(name, str) or "options" in data:
            return handler(data)
        strategy = strategy_class(name)
        model = strategy.options_model
        own = {key: value for key, value in data.items() if key in model.model_fields}
        rest = {key: value for key, value in data.items() if key not in own}
        for key in [key for key in rest if key not in SHARED]:
            others = [STRATEGIES[owner].options_model for owner in owners(key)]
            if not others:
                continue  # not a field at all: the shared model says so
            other = others[0]
            value = getattr(other.model_validate({key: rest.pop(key)}), key)
            if not leaves_run_as_is(key, value, other.model_fields[key].get_default()):
                flag = "--" + key.replace("_", "-")
                refusal = other.refusals.get(
                    key,
                    "{flag} is an option of {owners}; {strategy} does not read it"
                    " (use --strategy {owner} or leave it out)",
                )
                raise ValueError(
                    refusal.format(
                        flag=flag,
                        strategy=name,
                        owners=", ".join(owners(key)),
                        owner=owners(key)[0],
                    )
                )
        config = handler({**rest, "options": model.model_validate(own)})
        if config.settle not in strategy.settle_rules:
            raise ValueError(
                f"--settle {config.settle}: {name} does not settle early"
                f" (use --strategy {' or '.join(settling(config.settle))} or leave it out)"
            )
        return config

    @model_serializer(mode="wrap")
    def _flat(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Dumped flat, the strategy's options beside the shared fields."""
        data = handler(self)
        options = data.pop("options")
        return {**data, **options}
