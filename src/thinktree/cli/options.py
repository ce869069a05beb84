"""Options shared by commands that run a model, and how they become configs.

The search options of ``solve`` and ``eval`` are not written here by hand: they
are generated from :class:`thinktree.search.SearchConfig` (:func:`search_options`),
so a new config field is a new option of both commands, with its docstring as help.
The Ray options of ``eval`` come from :class:`thinktree.eval.fanout.FanoutConfig`
the same way (:func:`fanout_options`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, Literal, get_args, get_origin

import annotated_types
import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from thinktree.engines.factory import EngineConfig

ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Embedded model name/alias (default, fast), a .gguf path, "
        "or with --engine openai the served model name.",
    ),
]
EngineOpt = Annotated[str, typer.Option("--engine", help="llamacpp (in-process) or openai.")]
BaseUrlOpt = Annotated[
    str | None, typer.Option("--base-url", help="OpenAI-compatible server URL (--engine openai).")
]
ParallelOpt = Annotated[
    int | None,
    typer.Option(
        "--parallel",
        help="llama.cpp slots / concurrent requests "
        "(default: room for one problem's siblings, at least 4).",
        min=1,
    ),
]
PolicyOpt = Annotated[
    str | None,
    typer.Option(
        "--policy",
        help="--engine openai: the evolve round directory whose LoRA adapter the server "
        "serves as --model (its prompt style; its adapter in the run's identity).",
    ),
]
ChatTemplateOpt = Annotated[
    str | None,
    typer.Option(
        "--chat-template",
        help="--engine openai: the model's chat template (a Jinja file or "
        "tokenizer_config.json), for servers that cannot render it (SGLang).",
    ),
]
ThreadsOpt = Annotated[int, typer.Option("--threads", help="CPU threads (0 = all).", min=0)]
VerboseOpt = Annotated[bool, typer.Option("--verbose", help="Show llama.cpp's own log output.")]


def engine_config(
    engine: str,
    model: str | None,
    base_url: str | None,
    parallel: int,
    threads: int,
    verbose: bool,
    *,
    policy: str | None = None,
    chat_template: str | None = None,
) -> EngineConfig:
    if engine not in ("llamacpp", "openai"):
        raise ValueError(f"unknown engine {engine!r}; use llamacpp or openai")
    return EngineConfig(
        kind=engine,
        model=model,
        base_url=base_url,
        parallel=parallel,  # type: ignore[arg-type]
        threads=threads,
        verbose=verbose,
        policy=policy,
        chat_template=chat_template,
    )


# -- search options, generated from SearchConfig ---------------------------------------------

SearchFields = dict[str, Any]
"""The values of the generated search options, by SearchConfig field name."""
FanoutFields = dict[str, Any]
"""The values of the generated Ray options, by FanoutConfig field name."""

OPTION_NAMES: dict[str, tuple[str, ...]] = {"samples": ("--samples", "--rollouts")}
"""Option names other than ``--field-name`` (kept from before options were generated)."""


_BOUNDS = (
    (annotated_types.Ge, "ge", ">="),
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Le, "le", "<="),
    (annotated_types.Lt, "lt", "<"),
)


def _option_for(
    name: str,
    info: FieldInfo,
    panel: str = "Search (SearchConfig)",
    names: dict[str, tuple[str, ...]] = OPTION_NAMES,
) -> tuple[Any, Any]:
    """(annotation, default) of the Typer option for one config field.

    ``bool`` fields become a ``--name/--no-name`` pair. Choices (``Literal``) and
    bounds are shown in the help but checked by the config, so a value out of range
    is a one-line error like any other."""
    annotation = info.annotation
    kwargs: dict[str, Any] = {"help": " ".join((info.description or "").split())}
    kwargs["rich_help_panel"] = panel
    flag = "--" + name.replace("_", "-")
    decls = names.get(name, (flag,))
    if annotation is bool:
        decls = (f"{flag}/--no-{flag[2:]}",)
    if get_origin(annotation) is Literal:
        kwargs["metavar"] = "|".join(str(choice) for choice in get_args(annotation))
        annotation = str
    bounds = [
        f"{symbol} {getattr(bound, attr)}"
        for bound in info.metadata
        for kind, attr, symbol in _BOUNDS
        if isinstance(bound, kind)
    ]
    if bounds:
        kwargs["help"] += f" [{', '.join(bounds)}]"
    return Annotated[annotation, typer.Option(*decls, **kwargs)], info.get_default()


def search_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give ``command`` one option per :class:`SearchConfig` field, from the config itself.

    The command declares a parameter ``search: SearchFields`` (not an option); it
    receives the generated options' values by field name, to build the config with
    ``SearchConfig(**search)`` where errors become one-line user errors. Names,
    types, choices and bounds (shown in the help, checked by the config), defaults
    and help (the field docstrings) all come from the config; only the aliases in
    :data:`OPTION_NAMES` are written here.
    """
    from thinktree.search.config import SearchConfig

    return _config_options(command, SearchConfig, "search", "Search (SearchConfig)", OPTION_NAMES)


def fanout_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give ``command`` the Ray options (``--ray``, ``--workers``...) of :class:`FanoutConfig`.

    As :func:`search_options`, into a parameter ``fanout: FanoutFields``."""
    from thinktree.eval.fanout.config import FanoutConfig

    return _config_options(command, FanoutConfig, "fanout", "Scale out (Ray)", {})


def _config_options(
    command: Callable[..., Any],
    model: type[BaseModel],
    param: str,
    panel: str,
    names: dict[str, tuple[str, ...]],
) -> Callable[..., Any]:
    fields = model.model_fields
    signature = inspect.signature(command, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != param]
    clash = sorted({p.name for p in own} & set(fields))
    if clash:
        raise TypeError(f"{command.__name__} declares {param} fields itself: {', '.join(clash)}")
    generated = []
    for name, info in fields.items():
        annotation, default = _option_for(name, info, panel, names)
        generated.append(
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
            )
        )

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in fields if name in kwargs}
        return command(*args, **{param: values}, **kwargs)

    params = [*own, *generated]
    wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper
