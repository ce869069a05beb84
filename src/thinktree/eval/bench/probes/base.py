"""What a probe is: a measurement a recipe runs that is not a stored run.

A probe times or measures one component (the engine, the sandbox, the grader, a
serving, a training step) and writes its own results file. A recipe names it
(``probe: {name: engine, options: {tokens: 128}}``); its options model checks the
options when the recipe is read, before anything heavy loads, so a probe module
imports torch, llama.cpp, Ray or uvicorn only inside the functions that use them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict


class ProbeError(ValueError):
    """A probe that cannot run as asked, said in one line with what to do."""


class ProbeOptions(BaseModel):
    """A probe's options, each field with a one-line docstring (the help ``--set`` refers to)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    out: str
    """The results file (relative to the repository); each probe sets its default."""


@dataclass(frozen=True)
class ProbeContext:
    """Where a probe runs: the repository its relative paths start from, the command
    its results file records, and where it says what it measured."""

    root: Path
    command: str
    say: Callable[[str], None] = field(default=print)

    def path(self, relative: str | Path) -> Path:
        """``relative`` under the repository (an absolute path stays as it is)."""
        return self.root / relative


@dataclass(frozen=True)
class Probe:
    """A registered probe: its options model, what it measures, and how it runs.

    ``run(options, context)`` measures and writes the results file (``options.out``),
    and returns its path."""

    options: type[ProbeOptions]
    summary: str
    run: Callable[[Any, ProbeContext], Path]


def describe(name: str, probe: Probe, options: ProbeOptions) -> str:
    """What running the probe would do, in one line (``--dry-run``)."""
    fields = options.model_dump(exclude={"out"}).items()
    given = ", ".join(f"{key}={value!r}" for key, value in fields) or "no options"
    return f"probe {name} ({probe.summary}) would write {options.out}: {given}"


def run_probe(
    name: str,
    raw_options: Mapping[str, Any],
    probes: Mapping[str, Probe],
    context: ProbeContext,
    *,
    dry_run: bool = False,
) -> Path | None:
    """Run the probe ``name`` with its options checked (a dry run only says what it
    would do); the results file written, or None on a dry run."""
    probe = probes[name]
    options = probe.options.model_validate(dict(raw_options))
    if dry_run:
        context.say(describe(name, probe, options))
        return None
    return probe.run(options, context)
