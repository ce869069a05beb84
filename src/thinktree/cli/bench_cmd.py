"""`thinktree bench`: run a benchmark recipe (benchmarks/recipes/*.yaml), resumably,
and write its reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from thinktree.cli.app import app
from thinktree.cli.errors import user_errors


@app.command("bench")
def bench_command(
    recipe: Annotated[str, typer.Argument(help="A recipe YAML (benchmarks/recipes/).")],
    root: Annotated[
        str, typer.Option(help="Where the recipe's relative paths start (the repository).")
    ] = ".",
    store: Annotated[str | None, typer.Option(help="Run store instead of the recipe's.")] = None,
    max_minutes: Annotated[
        float | None, typer.Option(help="Stop cleanly after this long; rerun to resume.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say which runs are stored; load no model.")
    ] = False,
    report_only: Annotated[
        bool, typer.Option("--report-only", help="Write the reports from stored runs only.")
    ] = False,
    no_report: Annotated[bool, typer.Option("--no-report", help="Run, write no report.")] = False,
    export_only: Annotated[
        bool,
        typer.Option("--export-only", help="Export the store's runs (and ledgers), run nothing."),
    ] = False,
) -> None:
    """Find or grow every run a recipe names (kill it and run it again to resume),
    then write its reports from the stored results. A recipe with ``evolve`` then
    runs ``thinktree evolve`` with its config, its ledgers restored and saved."""
    from thinktree.eval.bench import load_recipe, run_recipe, write_report
    from thinktree.eval.bench.runner import export_all, save_ledgers, statuses_table, sync_in
    from thinktree.store import RunStore

    console = Console(stderr=True, highlight=False)
    base = Path(root)
    with user_errors():
        spec = load_recipe(recipe)
        path = Path(store) if store is not None else base / spec.store
        path.parent.mkdir(parents=True, exist_ok=True)
        run_store = RunStore(path)
    with run_store:
        if export_only:
            with user_errors():
                written = export_all(run_store, spec, base) + save_ledgers(spec, base)
            console.print(f"exported {len(written)} files")
            return
        with user_errors(" (stored results are kept; rerun to resume)"):
            if report_only:
                sync_in(run_store, spec, base)
            else:
                statuses = run_recipe(
                    spec,
                    run_store,
                    root=base,
                    max_minutes=max_minutes,
                    dry_run=dry_run,
                    say=console.print,
                )
                for line in statuses_table(statuses):
                    console.print(line, markup=False, soft_wrap=True)
                if any(s.state in ("stopped", "skipped") for s in statuses):
                    console.print("out of minutes; run the same command again to resume")
        if spec.evolve is not None and not (dry_run or report_only):
            _evolve(spec, base, run_store, max_minutes, console)
        if dry_run or no_report:
            return
        with user_errors():
            for report in spec.reports:
                written, ctx = write_report(run_store, spec, report, base)
                console.print(f"wrote {written} ({len(ctx.reports)} runs)")
                for missing in ctx.missing:
                    console.print(
                        f"  not stored whole, left out: {missing}", markup=False, soft_wrap=True
                    )


def _evolve(spec, base: Path, run_store, max_minutes: float | None, console: Console) -> None:
    """The recipe's evolve run: ledgers and the shipped round restored, then
    ``thinktree evolve``; its runs and ledgers saved afterwards, stopped or not."""
    from thinktree.cli.evolve_cmd import evolve_command
    from thinktree.eval.bench.runner import export_all, restore_ledgers, save_ledgers
    from thinktree.models.policy import embedded_policy_dir
    from thinktree.train.export.ship import restore_shipped_round

    evolve = spec.evolve
    out = base / evolve.out
    with user_errors():
        for name in restore_ledgers(spec, base):
            console.print(f"restored {name}'s ledger into {out}")
        if evolve.restore_shipped:
            said = restore_shipped_round(out, embedded_policy_dir())
            if said:
                console.print(said)
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
        console.print(f"exported {len(written)} files")
