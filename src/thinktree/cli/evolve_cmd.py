"""`thinktree evolve`: self-evolution rounds, resumable, with a summary table and plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from thinktree.cli.app import app
from thinktree.cli.errors import fail, user_errors
from thinktree.cli.job_options import evolve_job_options, evolve_options
from thinktree.cli.options import ConfigFields
from thinktree.train.evolve.job_config import EvolveJobConfig


class RichReporter:
    """Evolve's stages as Rich progress bars (one per stage, with ETA)."""

    def __init__(self, progress: Progress, console: Console) -> None:
        self.progress = progress
        self.console = console
        self.task: TaskID | None = None

    def stage(self, round_index: int, name: str, total: int | None) -> None:
        if self.task is not None:
            self.progress.stop_task(self.task)
        self.task = self.progress.add_task(f"round {round_index}: {name}", total=total)

    def advance(self, done: int, total: int | None = None) -> None:
        if self.task is None:
            return
        if total is not None:
            self.progress.update(self.task, total=total)
        self.progress.update(self.task, completed=done)

    def note(self, text: str) -> None:
        self.console.print(text)


def parse_set(items: list[str]) -> dict[str, Any]:
    """``--set key.path=value`` pairs; values are read as YAML (numbers, true, lists)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects KEY=VALUE (e.g. sft.epochs=1), got {item!r}")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            detail = " ".join(str(exc).split())
            raise ValueError(f"--set {key}: value {value!r} is not valid YAML ({detail})") from exc
    return out


@app.command("evolve")
@evolve_options
@evolve_job_options
def evolve_command(
    job: ConfigFields | None = None,
    overrides: dict[str, Any] | None = None,
) -> None:
    """Self-evolution: search the pool, fine-tune the small policy and train the PPM,
    round after round; kill it and run it again to resume."""
    from thinktree.train.evolve.config import load_evolve_config
    from thinktree.train.evolve.context import EvolveStopped
    from thinktree.train.evolve.loop import Evolution
    from thinktree.train.evolve.report import (
        COLUMNS,
        markdown_summary,
        plot_dev_accuracy,
        table_rows,
        write_summary,
    )

    console = Console(stderr=True, highlight=False)
    with user_errors():
        run = EvolveJobConfig(**(job or {}))
        # The flags given, then --set (a --set of the same field wins), over the file.
        given = {**(overrides or {}), **parse_set(run.assignments or [])}
        cfg = load_evolve_config(run.config, given)
    out_dir = Path(run.out)
    if out_dir.exists() and not out_dir.is_dir():
        fail(f"--out {out_dir} is a file; give a directory")
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    stopped = None
    with user_errors(" (finished stages are kept; rerun to resume)"):
        evolution = Evolution(cfg, out_dir, RichReporter(progress, console))
        with progress:
            try:
                rows = evolution.run()
            except EvolveStopped as exc:
                stopped = str(exc)
        if stopped is not None:
            rows = evolution.summary()
    write_summary(rows, out_dir)
    (out_dir / "summary.md").write_text(markdown_summary(rows) + "\n")
    plot = plot_dev_accuracy(rows, out_dir / "dev_accuracy.png")
    table = Table(*(title for _, title in COLUMNS), title="thinktree evolve")
    for cells in table_rows(rows):
        table.add_row(*cells)
    Console(highlight=False).print(table)
    for line in markdown_summary(rows).splitlines()[2 + len(rows) :]:
        if line.strip():
            console.print(line)
    console.print(f"summary: {out_dir / 'summary.json'}" + (f", plot: {plot}" if plot else ""))
    if stopped is not None:
        console.print(f"stopped: {stopped}; run the same command again to resume")
