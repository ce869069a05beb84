"""Every command's config options are generated from its config model: the help is the
field's docstring, a bad value is one line, and evolve's flags override its YAML file."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

from thinktree.cli import app
from thinktree.grading import GradeConfig
from thinktree.server import ServeConfig, ViewConfig
from thinktree.store import DEFAULT_STORE, StoreConfig

runner = CliRunner()

STORE_HELP = "Run store (SQLite): the file runs are written to and read from."
BIND_HELP = {
    "--host": "Address to bind (loopback unless a key is set).",
    "--api-key": "Require the key (Bearer, or a browser's sign-in with the key as password).",
    "--no-auth": "Allow a non-loopback bind without a key.",
    "--evolve": "An evolve directory whose rounds to show.",
}
HELP = {
    ("serve",): {
        **BIND_HELP,
        "--port": "Port to listen on. [>= 1, <= 65535]",
        "--scorer": "Default scorer: none or ppm:DIR (requests may name it or none).",
        "--concurrency": "Solves running at once. [>= 1]",
        "--queue": "Requests waiting for a slot (then 429). [>= 0]",
        "--store": STORE_HELP,
    },
    ("view",): {
        **BIND_HELP,
        "--port": "Port to listen on (0: any free port). [>= 0, <= 65535]",
        "--store": STORE_HELP,
    },
    ("grade",): {
        "--timeout": "Seconds per check. [>= 0.1]",
        "--workers": "Grader worker processes (one for a single --pred/--gold pair). [>= 1]",
    },
    ("exec",): {"--timeout": "Default wall-clock limit of one execution, in seconds."},
}
"""Each generated option's help, as its config field's docstring (and bounds) say it."""

CONFIGS = {
    ("serve",): ServeConfig,
    ("view",): ViewConfig,
    ("grade",): GradeConfig,
}
"""Commands whose every config field is an option."""


def command(*path: str) -> click.Command:
    group: click.Command = typer.main.get_command(app)
    for name in path:
        group = group.commands[name]  # type: ignore[attr-defined]
    return group


def options(cmd: click.Command) -> dict[str, click.Parameter]:
    return {opt: p for p in cmd.params for opt in (*p.opts, *p.secondary_opts)}


@pytest.mark.parametrize("path", list(HELP), ids=" ".join)
def test_each_option_has_its_fields_docstring_as_help(path: tuple[str, ...]) -> None:
    params = options(command(*path))
    assert {opt: params[opt].help for opt in HELP[path]} == HELP[path]
    shown = runner.invoke(app, [*path, "--help"], terminal_width=400)
    assert shown.exit_code == 0, shown.output
    for opt in HELP[path]:
        assert opt in shown.stdout


@pytest.mark.parametrize("path", list(CONFIGS), ids=" ".join)
def test_every_config_field_is_an_option(path: tuple[str, ...]) -> None:
    names = {p.name for p in command(*path).params}
    assert set(CONFIGS[path].model_fields) <= names


STORE_COMMANDS = [
    ("runs", "list"), ("runs", "show"), ("runs", "export"), ("runs", "import"),
    ("runs", "regrade"), ("report",), ("tree",), ("rescore",), ("eval",), ("serve",),
    ("view",), ("ppm", "pairs"), ("ppm", "train"),
]  # fmt: skip


@pytest.mark.parametrize("path", STORE_COMMANDS, ids=" ".join)
def test_every_store_is_the_one_store_option(path: tuple[str, ...]) -> None:
    store = options(command(*path))["--store"]
    assert (store.name, store.help, store.default) == ("store", STORE_HELP, "thinktree-runs.db")
    assert DEFAULT_STORE == StoreConfig().path == "thinktree-runs.db"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--port", "0"], "error: port: Input should be greater than or equal to 1"),
        (["serve", "--concurrency", "0"], "error: concurrency: Input should be greater than"),
        (["serve", "--queue", "-1"], "error: queue: Input should be greater than or equal to 0"),
        (["serve", "--host", "0.0.0.0"], "error: refusing to bind 0.0.0.0 without an API key"),
        (["view", "--port", "70000"], "error: port: Input should be less than or equal to 65535"),
        (["grade", "--pred", "1", "--gold", "1", "--timeout", "0"], "error: timeout: Input"),
        (["grade", "--file", "x.jsonl", "--workers", "0"], "error: workers: Input should be"),
        (["exec", "x.py", "--timeout", "-1"], "error: --timeout must be positive, got -1.0"),
    ],
)
def test_a_bad_value_is_one_line_and_exit_2(
    monkeypatch, tmp_path: Path, args: list[str], message: str
) -> None:
    monkeypatch.delenv("THINKTREE_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    out = runner.invoke(app, [a.format(tmp=tmp_path / "out") for a in args])
    assert out.exit_code == 2, out.output
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], out.stderr
