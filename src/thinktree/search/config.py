"""The one typed configuration of a search, built from flat field names in one place.

A search is the fields every strategy reads
(:class:`~thinktree.search.options.BaseSearchConfig`) and the strategy's own
options (its ``options_model``: MCTS's in :mod:`thinktree.search.mcts.options`,
sc's ``step_floor`` in :mod:`thinktree.search.sampling`). Users, the YAML of
``thinktree evolve``, the server and the command line name them all flat (the
mapping ``{strategy: mcts, samples: 8, c_uct: 1.0}`` is ``SearchConfig(**mapping)``).
:class:`SearchConfig` routes each flat name to the model that owns it, validates it
there, and dumps itself flat again, so a dump builds the same config.

A field of another strategy's options is refused in one line unless its value
leaves the run as it is (its default, or a value stored runs of any strategy hold:
:func:`thinktree.search.identity.leaves_run_as_is`), so configs written out whole
(``benchmarks/recipes/evolve/config.yaml``'s greedy dev search names MCTS's fields) still load; a
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
"""The flat names that stay in the shared config; any other is some strategy's option."""

FOREIGN = (
    "{flag} is an option of {owners}; {strategy} does not read it"
    " (use --strategy {owner} or leave it out)"
)
"""The line that refuses another strategy's option (unless its model says more)."""


def check_foreign(strategy: str, name: str, value: Any) -> None:
    """Validate ``value`` of ``name``, an option that ``strategy`` does not own, by the
    model that owns it, and refuse it unless it leaves the run as it is."""
    names = owners(name)
    model = STRATEGIES[names[0]].options_model
    value = getattr(model.model_validate({name: value}), name)
    if leaves_run_as_is(name, value, model.model_fields[name].get_default()):
        return
    line = model.refusals.get(name, FOREIGN)
    flag = "--" + name.replace("_", "-")
    raise ValueError(
        line.format(flag=flag, strategy=strategy, owners=", ".join(names), owner=names[0])
    )


class SearchConfig(BaseSearchConfig):
    """A search: the shared fields and the strategy's own ``options``, named flat."""

    strategy: str = DEFAULT_STRATEGY
    """The search strategy: a name registered in thinktree.search.registry."""

    @model_validator(mode="wrap")
    @classmethod
    def _route(cls, data: Any, handler: ModelWrapValidatorHandler[SearchConfig]) -> SearchConfig:
        """Route flat names into the strategy's options; refuse what it does not read."""
        if not isinstance(data, dict) or not isinstance(data.get("strategy", ""), str):
            return handler(data)  # a SearchConfig already, or a type error to report
        if "options" in data:
            raise ValueError("name the strategy's options flat (c_uct=..., not options=...)")
        name = data.get("strategy", DEFAULT_STRATEGY)
        strategy = strategy_class(name)
        model = strategy.options_model
        own = {key: value for key, value in data.items() if key in model.model_fields}
        shared = {key: value for key, value in data.items() if key not in own}
        for key in [key for key in shared if key not in SHARED and owners(key)]:
            check_foreign(name, key, shared.pop(key))
        # Names that are nobody's field stay in ``shared``: its model refuses them.
        config = handler({**shared, "options": model.model_validate(own)})
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
