"""No option is written by hand: every option of every command comes from a config field
through the one generator (:mod:`thinktree.cli.options`), which marks what it makes;
only positional arguments and Typer's own ``--help`` are declared otherwise."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import pytest
import typer
import typer.main
import typer.utils

from thinktree.cli import app
from thinktree.cli.job_options import StoreOpt
from thinktree.cli.options import ConfigFields, config_options, generated_from
from thinktree.cli.output_configs import JsonOutput, PPMScoreInput

FRAMEWORK_OPTIONS = frozenset({"--help"})
"""Options Typer adds to every command itself; no other option may be hand-written."""


def commands_of(
    typer_app: typer.Typer, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Callable[..., Any]]]:
    """Every command registered on ``typer_app`` and its sub-apps, by path, with its callback."""
    for info in typer_app.registered_commands:
        assert info.callback is not None
        yield (
            (*path, info.name or typer.main.get_command_name(info.callback.__name__)),
            info.callback,
        )
    for group in typer_app.registered_groups:
        assert group.typer_instance is not None and group.name is not None
        yield from commands_of(group.typer_instance, (*path, group.name))


def hand_written_options(typer_app: typer.Typer) -> tuple[list[str], set[str]]:
    """Each option (as ``command --option``) not generated from a config field, and the
    framework options that were let through."""
    root = typer.main.get_command(typer_app)
    found, allowed = [], set()
    for path, callback in commands_of(typer_app):
        declared = typer.utils.get_params_from_function(callback)
        cmd = root
        for name in path:
            cmd = cmd.commands[name] if hasattr(cmd, "commands") else cmd
        context = cmd.make_context(path[-1], [], resilient_parsing=True)
        for param in cmd.get_params(context):
            if param.param_type_name == "argument":
                continue
            if FRAMEWORK_OPTIONS & set(param.opts):
                allowed |= FRAMEWORK_OPTIONS & set(param.opts)
                continue
            if generated_from(declared[param.name].default) is None:
                found.append(" ".join([*path, param.opts[0]]))
    return found, allowed


def test_every_option_of_every_command_is_generated_from_a_config_field() -> None:
    assert hand_written_options(app) == ([], {"--help"})


json_options = config_options(
    JsonOutput, "output", panel="Options", names={"json_out": ("--json",)}
)


def test_a_hand_written_option_is_found() -> None:
    toy = typer.Typer()

    @toy.command()
    @json_options
    def first(
        name: Annotated[str, typer.Argument(help="A positional argument: allowed.")],
        count: Annotated[int, typer.Option(help="Written by hand.")] = 1,
        output: ConfigFields | None = None,
        plain: int = 2,
    ) -> None: ...

    @toy.command()
    def second(store: StoreOpt = "x") -> None: ...

    assert hand_written_options(toy) == (["first --count", "first --plain"], {"--help"})


def test_the_generator_marks_the_field_each_option_comes_from() -> None:
    declared = {
        path: typer.utils.get_params_from_function(callback) for path, callback in commands_of(app)
    }
    assert generated_from(declared[("rescore",)]["select"].default) == "RescoreConfig.select"
    assert generated_from(declared[("rescore",)]["store"].default) == "StoreConfig.path"
    assert generated_from(declared[("evolve",)]["pool_size"].default) == "EvolveConfig.pool.size"
    assert generated_from(declared[("bench",)]["assignments"].default) == "BenchConfig.assignments"
    assert generated_from(typer.Option(help="by hand")) is None


def test_options_stand_where_their_parameter_stands() -> None:
    @json_options
    def command(
        name: Annotated[str, typer.Argument()],
        output: ConfigFields | None = None,
        store: StoreOpt = "x",
    ) -> ConfigFields | None:
        return output

    params = inspect.signature(command).parameters.values()
    assert [(p.name, p.kind, p.default) for p in params] == [
        ("name", inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.empty),
        ("json_out", inspect.Parameter.KEYWORD_ONLY, False),
        ("store", inspect.Parameter.KEYWORD_ONLY, "x"),
    ]
    assert command(name="n", json_out=True, store="s") == {"json_out": True}
    assert command(name="n") == {}


def test_a_required_field_gives_an_option_without_default() -> None:
    @config_options(PPMScoreInput, "scored", panel="Options")
    def command(scored: ConfigFields | None = None) -> None: ...

    params = inspect.signature(command).parameters
    assert [(n, p.default) for n, p in params.items()] == [
        ("question", inspect.Parameter.empty),
        ("steps", inspect.Parameter.empty),
    ]


def test_a_command_without_the_parameter_is_refused() -> None:
    def command(store: StoreOpt = "x") -> None: ...

    with pytest.raises(TypeError, match="command declares no parameter 'output' for JsonOutput"):
        json_options(command)


def test_a_parameter_named_like_a_field_is_refused() -> None:
    def command(json_out: bool = False, output: ConfigFields | None = None) -> None: ...

    with pytest.raises(TypeError, match=r"command declares JsonOutput fields: \['json_out'\]"):
        json_options(command)
