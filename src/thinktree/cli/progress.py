"""Progress of a run's problems as they are solved: a Rich bar with the accuracy and
an ETA on a terminal, and a plain line a problem where the output goes to a file (a
background run's log), where a bar would print nothing until the end."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from thinktree.store import ResultRow

OnResult = Callable[[ResultRow], None]


class Tally:
    """Problems solved so far and how many of the graded ones are right."""

    def __init__(self) -> None:
        self.solved = self.graded = self.correct = 0

    def add(self, row: ResultRow) -> None:
        self.solved += 1
        if row.correct is not None:
            self.graded += 1
            self.correct += bool(row.correct)

    def accuracy(self) -> str:
        if not self.graded:
            return ""
        return f"acc {self.correct / self.graded:.1%} ({self.correct}/{self.graded})"


def log_line(description: str, tally: Tally, total: int, elapsed: float) -> str:
    """One log line after a result: count, accuracy, and the time left at the pace so far."""
    left = total - tally.solved
    eta = elapsed / tally.solved * left if tally.solved else 0.0
    parts = [f"{description}: {tally.solved}/{total}", tally.accuracy(),
             f"{elapsed / 60:.1f} min", f"~{eta / 60:.1f} min left"]  # fmt: skip
    return "  ".join(part for part in parts if part)


@contextmanager
def result_progress(
    console: Console, description: str, total: int, clock: Callable[[], float] = time.monotonic
) -> Iterator[OnResult]:
    """An ``on_result`` callback that shows ``total`` problems' progress on ``console``."""
    tally = Tally()
    if not console.is_terminal:
        started = clock()

        def line(row: ResultRow) -> None:
            tally.add(row)
            text = log_line(description, tally, total, clock() - started)
            console.print(text, markup=False, highlight=False, soft_wrap=True)

        yield line
        return
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[acc]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    with progress:
        task = progress.add_task(description, total=total, acc="")

        def advance(row: ResultRow) -> None:
            tally.add(row)
            progress.update(task, advance=1, acc=tally.accuracy())

        yield advance
