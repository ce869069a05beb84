"""The fields of a config model, as the option generator reads them.

A config model is a pydantic model or a dataclass (``SandboxConfig``, ``HeadConfig``,
frozen dataclasses of the lower layers). Either way a field's help is its attribute
docstring: pydantic keeps it as the field's description when the model sets
``use_attribute_docstrings``; otherwise (a dataclass, or a pydantic model without that
setting, like the evolve config's) it is read here from the class's source, so no
config has to repeat its docstrings for the command line.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import itertools
import textwrap
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo


@functools.cache
def attribute_docs(cls: type) -> dict[str, str]:
    """The docstring under each annotated attribute of ``cls`` and its bases (the nearest
    class wins); empty where the source cannot be read."""
    docs: dict[str, str] = {}
    # The config's own classes only: pydantic's BaseModel is a long file to parse.
    own = [k for k in cls.__mro__ if k is not object and not k.__module__.startswith("pydantic")]
    for klass in reversed(own):
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        body = ast.parse(source).body
        if not body or not isinstance(body[0], ast.ClassDef):
            continue
        statements = body[0].body
        for node, after in itertools.pairwise(statements):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = inspect.cleandoc(after.value.value)
    return docs


def fields_of(model: type) -> dict[str, FieldInfo]:
    """Every field of ``model`` (a pydantic model or a dataclass) by name, in order,
    with its docstring as description."""
    if isinstance(model, type) and issubclass(model, BaseModel):
        fields = model.model_fields
        if all(info.description for info in fields.values()):
            return dict(fields)
        docs = attribute_docs(model)
        return {name: _described(info, docs.get(name)) for name, info in fields.items()}
    if dataclasses.is_dataclass(model):
        docs = attribute_docs(model)
        hints = typing.get_type_hints(model)
        out = {}
        for field in dataclasses.fields(model):
            if not field.init:
                continue
            default: Any = field.default
            if field.default_factory is not dataclasses.MISSING:
                default = field.default_factory()
            info = FieldInfo.from_annotated_attribute(
                hints[field.name],
                ... if default is dataclasses.MISSING else default,
            )
            out[field.name] = _described(info, docs.get(field.name))
        return out
    raise TypeError(f"{model!r} is neither a pydantic model nor a dataclass")


def _described(info: FieldInfo, doc: str | None) -> FieldInfo:
    if info.description or not doc:
        return info
    copy = FieldInfo.merge_field_infos(info)
    copy.description = doc
    return copy
