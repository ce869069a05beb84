"""Command-line options generated from the config models, and how they become configs.

No option that mirrors a config field is written here by hand. :func:`config_options`
gives a command one option per field of a pydantic model, with the field's
docstring as help, its type, choices and bounds; the decorators below apply it to
:class:`~thinktree.search.SearchConfig` (``solve``, ``eval``: its shared fields and
every registered strategy's own options, each model in its own help panel),
:class:`~thinktree.engines.factory.EngineConfig` (``solve``, ``eval``, ``serve``),
:class:`~thinktree.problems.ProblemSource` (``eval``),
:class:`~thinktree.eval.fanout.config.FanoutConfig` (``eval``'s Ray options) and
:class:`~thinktree.eval.job_config.EvalJobConfig` (``eval``'s sitting). A new config field is
thus a new option of every command that takes the config. Only other option names
(:data:`SEARCH_NAMES`, :data:`ENGINE_NAMES`) and fields kept off the command line
(the engine's API key: an environment variable, not a visible argument) are
written here. The other commands' options are generated the same way, in
:mod:`thinktree.cli.job_options`. Each generated option carries the field it came
from (:func:`generated_from`), so ``tests/cli`` can refuse an option written by hand.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Collection, Mapping
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from thinktree.cli.fields import fields_of
from thinktree.engines.factory import EngineConfig
from thinktree.problems.source import ProblemSource
from thinktree.search.config import SHARED, SearchConfig
from thinktree.search.registry import STRATEGIES, options_models, resolved, strategy_class

ConfigFields = dict[str, Any]
"""The values of one config's generated options, by field name."""

Command = Callable[..., Any]

SEARCH_NAMES: dict[str, tuple[str, ...]] = {"samples": ("--samples", "--rollouts")}
"""Option names other than ``--field-name`` (kept from before options were generated)."""
ENGINE_NAMES: dict[str, tuple[str, ...]] = {"kind": ("--engine",), "model": ("--model", "-m")}

_BOUNDS = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))
"""Bound attributes of a field's metadata (pydantic's ``Field(ge=...)``), as shown in help."""

_SOURCE = "thinktree_config_field"
"""The attribute the generator sets on each Typer option it makes: the config field's name."""


def generated_from(option: object) -> str | None:
    """The config field (``Model.field``) a Typer option was generated from; None for an
    option written by hand (``tests/cli`` refuses those)."""
    return getattr(option, _SOURCE, None)


def _literal_of(annotation: Any) -> Any:
    """The ``Literal`` of a choice field (``Literal[...]`` or ``Literal[...] | None``)."""
    if get_origin(annotation) is Literal:
        return annotation
    if get_origin(annotation) in (Union, UnionType):
        literals = [a for a in get_args(annotation) if get_origin(a) is Literal]
        rest = [a for a in get_args(annotation) if get_origin(a) is not Literal]
        if len(literals) == 1 and rest == [type(None)]:
            return literals[0]
    return None


def _option_for(
    name: str,
    info: FieldInfo,
    panel: str | None,
    decls: tuple[str, ...] | None,
    metavar: str | None,
    envvar: str | None = None,
    *,
    source: str,
) -> tuple[Any, Any]:
    """(annotation, default) of the Typer option for one config field (``source``:
    ``Model.field``, kept on the option for :func:`generated_from`).

    ``bool`` fields become a ``--name/--no-name`` pair unless ``decls`` names them.
    Choices (``Literal``) and bounds are shown in the help but checked by the config,
    so a value out of range is a one-line error like any other. ``envvar`` is read
    when the option is not given. A required field gives a required option (no
    default)."""
    annotation = info.annotation
    kwargs: dict[str, Any] = {"help": " ".join((info.description or "").split())}
    kwargs["rich_help_panel"] = panel
    if envvar:
        kwargs["envvar"] = envvar
    flag = "--" + name.replace("_", "-")
    if decls is None and annotation in (bool, bool | None):
        decls = (f"{flag}/--no-{flag[2:]}",)
    decls = decls or (flag,)
    choices = _literal_of(annotation)
    if choices is not None:
        metavar = metavar or "|".join(str(choice) for choice in get_args(choices))
        annotation = str if choices is annotation else str | None
    if metavar:
        kwargs["metavar"] = metavar
    bounds = [
        f"{symbol} {getattr(bound, attr)}"
        for bound in info.metadata
        for attr, symbol in _BOUNDS
        if getattr(bound, attr, None) is not None
    ]
    if bounds:
        kwargs["help"] += f" [{', '.join(bounds)}]"
    option = typer.Option(*decls, **kwargs)
    setattr(option, _SOURCE, source)
    default = inspect.Parameter.empty if info.is_required() else info.get_default()
    return Annotated[annotation, option], default


def config_options(
    model: type[BaseModel] | type,
    param: str,
    *,
    panel: str,
    names: Mapping[str, tuple[str, ...]] | None = None,
    metavars: Mapping[str, str] | None = None,
    envvars: Mapping[str, str] | None = None,
    exclude: Collection[str] = (),
    prefix: str = "",
) -> Callable[[Command], Command]:
    """A decorator giving a command one option per field of ``model`` (but ``exclude``),
    a pydantic model or a dataclass (:func:`~thinktree.cli.fields.fields_of`).
    ``prefix`` (``"lm_"``) names the options ``--lm-<field>``, for a config whose
    fields would clash with another's on the same command; ``param`` still receives
    them by field name.

    The command declares a parameter ``param: ConfigFields`` (not an option); the
    options stand where it stands (the help lists them there), and it receives their
    values by field name, to build the config with ``model(**fields)`` where errors
    become one-line user errors. Names, types, choices and bounds (shown in the help,
    checked by the config), defaults (none for a required field: a required option)
    and help (the field docstrings) all come from the model; ``names`` gives other
    option names and ``envvars`` environment variables read when an option is not
    given. Decorators for different configs stack; their fields must not clash.
    """
    fields = {n: (info, panel) for n, info in fields_of(model).items() if n not in exclude}
    return _fields_options(fields, param, model.__name__, names, metavars, envvars, prefix)


def _fields_options(
    fields: Mapping[str, tuple[FieldInfo, str]],
    param: str,
    owner: str,
    names: Mapping[str, tuple[str, ...]] | None,
    metavars: Mapping[str, str] | None,
    envvars: Mapping[str, str] | None = None,
    prefix: str = "",
) -> Callable[[Command], Command]:
    """:func:`config_options` for ``fields`` (name: field and its help panel) of one or
    more models (``owner`` names them in a clash)."""

    def decorate(command: Command) -> Command:
        generated = []
        for name, (info, panel) in fields.items():
            annotation, default = _option_for(
                prefix + name,
                info,
                panel,
                (names or {}).get(name),
                (metavars or {}).get(name),
                (envvars or {}).get(name),
                source=f"{owner}.{name}",
            )
            generated.append(
                inspect.Parameter(
                    prefix + name,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=default,
                    annotation=annotation,
                )
            )

        signature = placed(command, param, generated, owner)

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            values = {n: kwargs.pop(prefix + n) for n in fields if prefix + n in kwargs}
            return command(*args, **{param: values}, **kwargs)

        wrapper.__signature__ = signature  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
        return wrapper

    return decorate


def placed(
    command: Command, param: str, generated: list[inspect.Parameter], owner: str
) -> inspect.Signature:
    """``command``'s signature with the ``generated`` options where its parameter ``param``
    stands, so that the help lists them there; every parameter keyword-only (Typer passes
    them by name), so required and optional ones may stand in any order."""
    signature = inspect.signature(command, eval_str=True)
    params = list(signature.parameters.values())
    names = [p.name for p in params]
    if param not in names:
        raise TypeError(f"{command.__name__} declares no parameter {param!r} for {owner}")
    at = names.index(param)
    clash = sorted(set(names[:at] + names[at + 1 :]) & {p.name for p in generated})
    if clash:
        raise TypeError(f"{command.__name__} declares {owner} fields: {clash}")
    params[at : at + 1] = generated
    keyword = inspect.Parameter.KEYWORD_ONLY
    return signature.replace(parameters=[p.replace(kind=keyword) for p in params])


def field_option(
    model: type[BaseModel] | type,
    name: str,
    *,
    decls: tuple[str, ...] | None = None,
    panel: str | None = None,
) -> tuple[Any, Any]:
    """(annotation, default) of the option for one field of ``model``, for a command that
    takes that one field as a plain parameter (every command's ``--store``)."""
    source = f"{model.__name__}.{name}"
    return _option_for(name, fields_of(model)[name], panel, decls, None, source=source)


def search_fields() -> dict[str, tuple[FieldInfo, str]]:
    """Every field a search can be given, with its help panel: the shared ones
    (:class:`SearchConfig`), then each registered strategy's own options model's."""
    shared = SearchConfig.model_fields
    fields = {name: (shared[name], "Search (SearchConfig)") for name in shared if name in SHARED}
    for model in options_models():
        panel = f"Search: {model.__name__}"
        fields.update({name: (info, panel) for name, info in model.model_fields.items()})
    return fields


search_options = _fields_options(
    search_fields(),
    "search",
    "SearchConfig",
    names=SEARCH_NAMES,
    metavars={"strategy": "|".join(STRATEGIES)},
)
"""``solve``'s and ``eval``'s search: every field of :class:`SearchConfig` and of the
strategies' own options, named flat (the config routes them)."""

engine_options = config_options(
    EngineConfig, "engine", panel="Engine (EngineConfig)", names=ENGINE_NAMES, exclude={"api_key"}
)
"""The engine of every command that runs a model: every :class:`EngineConfig` field
but the API key (read from the environment, kept out of shell histories)."""

source_options = config_options(ProblemSource, "source", panel="Problems (ProblemSource)")
"""``eval``'s problems: every :class:`ProblemSource` field."""


def fanout_options(command: Command) -> Command:
    """``eval``'s Ray options (``--ray``, ``--workers``...): every ``FanoutConfig`` field,
    into a parameter ``fanout: ConfigFields``. Imported here, not at the top, so that
    the fan-out package loads only with the command that uses it."""
    from thinktree.eval.fanout.config import FanoutConfig

    return config_options(FanoutConfig, "fanout", panel="Scale out (Ray)")(command)


def eval_job_options(command: Command) -> Command:
    """``eval``'s sitting (``--window``, ``--max-minutes``, ``--new``): every
    ``EvalJobConfig`` field, into a parameter ``job: ConfigFields``, in the command's
    own help panel as before they were generated. Imported here, as ``fanout_options``."""
    from thinktree.eval.job_config import EvalJobConfig

    sitting = config_options(EvalJobConfig, "job", panel="Options", names={"new_run": ("--new",)})
    return sitting(command)


def search_config(fields: ConfigFields | None, scorer: str | None) -> SearchConfig:
    """The search of a command, its strategy checked against the registry and its
    defaults decided for the scorer ``--scorer`` names (an unknown one: ValueError).
    The scorer registry is imported here, with the command that needs it."""
    from thinktree.reward.registry import spec_is_scored

    scored = spec_is_scored(scorer)
    return resolved(SearchConfig(**(fields or {})), scored)


def chosen_scorer(
    given: str | None, search: ConfigFields | None, engine: ConfigFields | None
) -> str:
    """``--scorer`` as ``given``; not given, the verifier shipped with the model where the
    strategy takes one (:attr:`~thinktree.search.base.ProblemSearch.takes_shipped_verifier`;
    said on stderr), else ``none``. The scorer registry is imported here, with the
    command that needs it."""
    if given is not None:
        return given
    strategy = SearchConfig(**(search or {})).strategy
    if not strategy_class(strategy).takes_shipped_verifier:
        return "none"
    from thinktree.reward.registry import shipped_verifier

    spec = shipped_verifier(EngineConfig(**(engine or {})).model)
    if spec is None:
        return "none"
    typer.echo(
        f"note: {strategy} scores with the verifier shipped with the model ({spec}); "
        "--scorer none turns it off",
        err=True,
    )
    return spec


def say_notice(config: SearchConfig, scorer: str | None) -> None:
    """The line the search's strategy says before it runs with ``scorer``, on stderr
    (:meth:`~thinktree.search.base.ProblemSearch.notice`); nothing where it has none."""
    from thinktree.reward.registry import scorer_kind

    note = strategy_class(config.strategy).notice(config, scorer_kind(scorer))
    if note is not None:
        typer.echo(note, err=True)


def engine_config(fields: ConfigFields | None, slots: Callable[[], int]) -> EngineConfig:
    """The engine of a command; ``slots()`` gives ``parallel`` when the user did not."""
    config = EngineConfig(**(fields or {}))
    if config.parallel is not None:
        return config
    return config.model_copy(update={"parallel": slots()})
