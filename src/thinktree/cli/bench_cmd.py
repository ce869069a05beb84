"""`thinktree bench`: run a benchmark recipe (benchmarks/recipes/*.yaml), resumably,
and write its reports; a recipe's probe (a timing) runs after its runs."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from thinktree.cli.app import app
from thinktree.cli.errors import fail, user_errors
from thinktree.cli.job_options import bench_options
from thinktree.cli.options import ConfigFields
from thinktree.cli.progress import result_progress
from thinktree.eval.bench.config import BenchConfig


@app.command("bench")
@bench_options
def bench_command(
    recipe: Annotated[str, typer.Argument(help="A recipe YAML (benchmarks/recipes/).")],
    sitting: ConfigFields | None = None,
) -> None:
    """Find or grow every run a recipe names (kill it and run it again to resume),
    then write its reports from the stored results. A recipe with ``evolve`` then
    runs ``thinktree evolve`` with its config, its ledgers restored and saved; one
    with a ``probe`` then runs that measurement, which writes its own results file."""
    from thinktree.cli.probes import bench_probes
    from thinktree.eval.bench import load_recipe, option_models, write_report
    from thinktree.eval.bench.runner import export_all, save_ledgers
    from thinktree.store import RunStore

    with user_errors():
        options = BenchConfig(**(sitting or {}))
    set_, dry_run = options.assignments or [], options.dry_run
    console = Console(stderr=True, highlight=False)
    base = Path(options.root)
    with user_errors():
        probes = bench_probes()
        spec = load_recipe(recipe, probes)
        spec = spec.with_probe_options(_probe_options(set_), option_models(probes))
        run_store = None
        if spec.store is not None or options.store is not None:
            path = Path(options.store) if options.store is not None else base / str(spec.store)
            path.parent.mkdir(parents=True, exist_ok=True)
            run_store = RunStore(path)
    if options.export_only and run_store is None:
        fail(f"{recipe} keeps no run store: nothing to export")
    with run_store or nullcontext():
        if options.export_only and run_store is not None:
            with user_errors():
                written = export_all(run_store, spec, base) + save_ledgers(spec, base)
                written += _save_checkpoints(spec, base)
            console.print(f"exported {len(written)} files")
            return
        finished = True
        if run_store is not None:
            finished = _runs(spec, base, run_store, options, console)
        if spec.probe is not None and not options.report_only:
            if finished:
                _probe(spec, probes, base, recipe, set_, dry_run, console)
            else:
                console.print(f"probe {spec.probe.name} waits for the runs; rerun to resume")
        if dry_run or options.no_report or run_store is None:
            return
        with user_errors():
            for report in spec.reports:
                written, ctx = write_report(run_store, spec, report, base)
                console.print(f"wrote {written} ({len(ctx.reports)} runs)")
                for missing in ctx.missing:
                    console.print(
                        f"  not stored whole, left out: {missing}", markup=False, soft_wrap=True
                    )


def _probe_options(items: list[str]) -> dict[str, Any]:
    """``--set KEY=VALUE`` items as probe options, values read as YAML (as evolve's)."""
    from thinktree.cli.evolve_cmd import parse_set

    for item in items:
        if "=" not in item:
            raise ValueError(f"--set expects KEY=VALUE (e.g. --set tokens=64), got {item!r}")
    return parse_set(items)


def _runs(
    spec: Any,
    base: Path,
    run_store: Any,
    options: BenchConfig,
    console: Console,
) -> bool:
    """The recipe's runs found or grown (or, with ``report_only``, its exports imported)
    and its evolve run; whether they finished within the sitting."""
    from thinktree.eval.bench import run_recipe
    from thinktree.eval.bench.runner import statuses_table, sync_in

    finished = True
    with user_errors(" (stored results are kept; rerun to resume)"):
        if options.report_only:
            sync_in(run_store, spec, base)
        else:
            statuses = run_recipe(
                spec,
                run_store,
                root=base,
                max_minutes=options.max_minutes,
                dry_run=options.dry_run,
                say=console.print,
                watch=lambda description, total: result_progress(console, description, total),
            )
            for line in statuses_table(statuses):
                console.print(line, markup=False, soft_wrap=True)
            if any(s.state in ("stopped", "skipped") for s in statuses):
                console.print("out of minutes; run the same command again to resume")
                finished = False
    if spec.evolve is not None and not (options.dry_run or options.report_only):
        _evolve(spec, base, run_store, options.max_minutes, console)
    return finished


def _probe(
    spec: Any,
    probes: Mapping[str, Any],
    base: Path,
    recipe: str,
    set_: list[str],
    dry_run: bool,
    console: Console,
) -> None:
    """Run the recipe's probe (a dry run says what it would do); its results file is
    told, and the command it records names the recipe from the repository."""
    from thinktree.eval.bench.probes import ProbeContext, run_probe

    shown = Path(recipe)
    if shown.is_absolute() and shown.is_relative_to(base.resolve()):
        shown = shown.relative_to(base.resolve())
    command = shlex.join(["thinktree", "bench", str(shown), *(f"--set={item}" for item in set_)])

    def say(text: str) -> None:
        console.print(text, markup=False, soft_wrap=True)

    with user_errors():
        written = run_probe(
            spec.probe.name, spec.probe.options, probes, ProbeContext(base, command, say),
            dry_run=dry_run,
        )  # fmt: skip
    if written is not None:
        console.print(f"wrote {written}", markup=False, soft_wrap=True)


def _restore_shipped(spec, base: Path) -> list[str]:
    """Put a shipped round of this evolve run back into its rounds' directory: the slot
    over the model it evolves (``evolved`` over the 0.5B, ``default`` over the 1.5B);
    a slot over another base is another run's and is left alone. What was said."""
    from thinktree.models.policy import default_policy_dir, embedded_policy_dir
    from thinktree.models.registry import find_embedded
    from thinktree.train.evolve.config import load_evolve_config
    from thinktree.train.export.ship import restore_shipped_round

    evolve = spec.evolve
    policy = find_embedded(load_evolve_config(base / evolve.config).policy)
    if policy is None:  # a .gguf file of the user's: nothing of it is shipped
        return []
    said = (
        restore_shipped_round(base / evolve.out, slot, base=policy.name)
        for slot in (embedded_policy_dir(), default_policy_dir())
    )
    return [line for line in said if line]


def _evolve(spec, base: Path, run_store, max_minutes: float | None, console: Console) -> None:
    """The recipe's evolve run: ledgers, the shipped round and unfinished SFT and LM PPM
    checkpoints restored, then ``thinktree evolve``; its runs, ledgers and checkpoints saved
    afterwards, stopped or not."""
    from thinktree.cli.evolve_cmd import evolve_command
    from thinktree.eval.bench.runner import export_all, restore_ledgers, save_ledgers

    evolve = spec.evolve
    out = base / evolve.out
    with user_errors():
        for name in restore_ledgers(spec, base):
            console.print(f"restored {name}'s ledger into {out}")
        if evolve.restore_shipped:
            for said in _restore_shipped(spec, base):
                console.print(said)
        for name in _restore_checkpoints(spec, base):
            console.print(f"restored {name}'s checkpoint into {out}")
    try:
        evolve_command(
            out=str(out),
            config=str(base / evolve.config),
            rounds=evolve.rounds,
            reference_enabled=evolve.reference,
            store=str(run_store.path),
            max_minutes=max_minutes,
        )
    finally:
        with user_errors():
            written = export_all(run_store, spec, base) + save_ledgers(spec, base)
            written += _save_checkpoints(spec, base)
        console.print(f"exported {len(written)} files")


def _restore_checkpoints(spec: Any, base: Path) -> list[str]:
    """Import the evolve run's carried SFT and LM PPM checkpoints (recipe
    ``checkpoints``) into its rounds where this machine lacks them; what was restored
    (``round-N`` for an SFT, ``round-N ppm`` for an LM PPM)."""
    evolve = spec.evolve
    if evolve is None or evolve.checkpoints is None:
        return []
    from thinktree.train.evolve.carry import restore_ppm_checkpoints, restore_sft_checkpoints
    from thinktree.train.evolve.config import load_evolve_config

    config = load_evolve_config(base / evolve.config)
    carried, out = base / evolve.checkpoints, base / evolve.out
    sft = restore_sft_checkpoints(carried, out, config.sft)
    ppm = restore_ppm_checkpoints(carried, out, config.lm_ppm)
    return sft + [f"{name} ppm" for name in ppm]


def _save_checkpoints(spec: Any, base: Path) -> list[Path]:
    """Export the evolve run's in-progress SFT and LM PPM checkpoints to the recipe's
    ``checkpoints`` (none: they do not travel)."""
    evolve = spec.evolve
    if evolve is None or evolve.checkpoints is None:
        return []
    from thinktree.train.evolve.carry import save_ppm_checkpoints, save_sft_checkpoints

    directory, out, precision = (
        base / evolve.checkpoints,
        base / evolve.out,
        evolve.checkpoint_precision,
    )
    return save_sft_checkpoints(out, directory, precision) + save_ppm_checkpoints(
        out, directory, precision
    )
