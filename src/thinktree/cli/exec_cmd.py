"""`thinktree exec`: run one Python file as a single cell in the sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from thinktree.cli.app import app
from thinktree.cli.errors import fail
from thinktree.cli.job_options import exec_json_options, exec_options
from thinktree.cli.options import ConfigFields
from thinktree.cli.output_configs import wants_json


@app.command("exec")
@exec_options
@exec_json_options
def exec_file(
    file: Annotated[Path, typer.Argument(help="Python file to run as one sandboxed cell.")],
    output: ConfigFields | None = None,
    sandbox: ConfigFields | None = None,
) -> None:
    """Run FILE in the sandbox and print its output and error.

    Exits 0 whenever the sandbox did its job, whatever the code did; the code's
    failure is in the output (``error``), not in the exit code.
    """
    from thinktree.sandbox import Sandbox, SandboxConfig, SandboxError

    timeout = (sandbox or {}).get("timeout", SandboxConfig().timeout)
    # Said before the sandbox starts, in the option's own words.
    if not timeout > 0:
        fail(f"--timeout must be positive, got {timeout}")
    try:
        source = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"no such file: {file}")
    except IsADirectoryError:
        fail(f"{file} is a directory, not a Python file")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}")

    try:
        with Sandbox(SandboxConfig(**(sandbox or {}), workers=1)) as pool:
            result = pool.run([source], timeout=timeout)
    except SandboxError as exc:
        fail(str(exc), code=1)

    if wants_json(output):
        keys = ("stdout", "stderr", "error", "timed_out", "truncated", "seconds")
        typer.echo(json.dumps({key: getattr(result, key) for key in keys}))
        return
    _print_human(result)


def _print_human(result: object) -> None:
    from rich.console import Console
    from rich.text import Text

    from thinktree.sandbox import ExecResult

    assert isinstance(result, ExecResult)
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if result.stdout:
        out.print(Text(result.stdout), end="")
    if result.stderr:
        err.print(Text(result.stderr), end="")
    if result.error:
        err.print(Text(result.error, style="bold red"))
    status = "timed out" if result.timed_out else ("failed" if result.error else "ok")
    err.print(Text(f"[{status} in {result.seconds:.3f} s]", style="dim"))
