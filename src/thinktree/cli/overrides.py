"""Options that override a config file: one per chosen field of a nested config model.

``thinktree evolve`` reads a YAML file and lets flags override some of its fields
(``--rounds``, ``--pool-size``...). Such an option must not have the model's
default, or it would override the file every time: each is ``None`` unless given,
and the command receives only the given ones, by dotted field path, to apply on
top of the file before the model validates the whole (so bounds, choices and
cross-field checks are the model's, said in one line). Name, type and help (the
field's docstring) come from the model, as with :func:`~thinktree.cli.options.config_options`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, get_args

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from thinktree.cli.fields import fields_of
from thinktree.cli.options import Command, _option_for, placed


def field_at(model: type[BaseModel], path: str) -> FieldInfo:
    """The field of ``model`` at a dotted ``path`` (``pool.size``) through nested models.

    A nested field without a docstring (``reference.enabled``) is described by its
    model's docstring: the switch of a section says what the section is."""
    head, _, rest = path.partition(".")
    fields = fields_of(model)
    if head not in fields:
        raise KeyError(f"{model.__name__} has no field {head!r}")
    if not rest:
        return fields[head]
    inner = fields[head].annotation
    if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
        raise KeyError(f"{model.__name__}.{head} is not a model, so {path!r} names no field")
    info = field_at(inner, rest)
    if info.description or not inner.__doc__ or "." in rest:
        return info
    described = FieldInfo.merge_field_infos(info)
    described.description = inspect.cleandoc(inner.__doc__)
    return described


def override_options(
    model: type[BaseModel],
    paths: Sequence[str],
    param: str,
    *,
    panel: str,
    names: Mapping[str, tuple[str, ...]] | None = None,
) -> Callable[[Command], Command]:
    """A decorator giving a command one option per dotted field path of ``model``
    (``--pool-size`` for ``pool.size``, or the names in ``names``); the command's
    parameter ``param: dict[str, Any]`` receives the given options by path."""
    generated = {}
    for path in paths:
        name = path.replace(".", "_")
        annotation, _ = _option_for(
            name,
            field_at(model, path),
            panel,
            (names or {}).get(path),
            None,
            source=f"{model.__name__}.{path}",
        )
        kind, option = get_args(annotation)
        generated[name] = (path, Annotated[kind | None, option])

    def decorate(command: Command) -> Command:
        params = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=ann)
            for name, (_, ann) in generated.items()
        ]
        signature = placed(command, param, params, f"overridden {model.__name__}")

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            given = {}
            for name, (path, _) in generated.items():
                value = kwargs.pop(name, None)
                if value is not None:
                    given[path] = value
            return command(*args, **{param: given}, **kwargs)

        wrapper.__signature__ = signature  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
        return wrapper

    return decorate
