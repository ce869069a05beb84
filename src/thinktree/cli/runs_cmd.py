"""`thinktree runs list | show | export | import | regrade`, `thinktree report`, `thinktree tree`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from thinktree.cli.app import app
from thinktree.cli.errors import fail, user_errors
from thinktree.cli.job_options import (
    StoreOpt,
    export_options,
    json_options,
    report_options,
    runs_json_options,
    tree_options,
)
from thinktree.cli.options import ConfigFields
from thinktree.cli.output_configs import wants_json
from thinktree.store import DEFAULT_STORE

runs_app = typer.Typer(
    help="Stored runs: list, show, export, import, regrade.", no_args_is_help=True
)
app.add_typer(runs_app, name="runs")


def _open(store: str):
    from thinktree.store import RunStore, StoreError

    try:
        return RunStore(store, create=False)
    except StoreError as exc:
        fail(str(exc))


def _run(store_obj, run_id: str):
    from thinktree.store import StoreError

    try:
        return store_obj.get_run(run_id)
    except StoreError as exc:
        fail(str(exc))


@runs_app.command("list")
@runs_json_options
def list_runs(store: StoreOpt = DEFAULT_STORE, output: ConfigFields | None = None) -> None:
    """Every run in the store with its status and headline figures."""
    with _open(store) as db:
        runs = db.list_runs()
        counts = {r.id: db.count_results(r.id) for r in runs}
    if wants_json(output):
        for r in runs:
            sys.stdout.write(
                json.dumps(
                    {
                        "run_id": r.id,
                        "status": r.status,
                        "dataset": r.dataset,
                        "strategy": r.strategy,
                        "model": r.model,
                        "results": counts[r.id],
                        **r.metrics,
                    }
                )
                + "\n"
            )
        return
    table = Table(
        "run", "status", "data", "strategy", "model", "results", "accuracy", "tok/problem"
    )
    for r in runs:
        acc = r.metrics.get("accuracy")
        table.add_row(
            r.id,
            r.status,
            r.dataset,
            r.strategy,
            r.model,
            str(counts[r.id]),
            "n/a" if acc is None else f"{acc:.1%}",
            f"{r.metrics.get('tokens_per_problem', 0):.0f}",
        )
    Console().print(table)


@runs_app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="Run id (or a unique prefix).")],
    store: StoreOpt = DEFAULT_STORE,
) -> None:
    """A run's manifest and metrics as JSON."""
    from thinktree.eval.metrics import summarize

    with _open(store) as db:
        run = _run(db, run_id)
        summary = summarize(db.results(run.id), wall_seconds=run.metrics.get("wall_seconds"))
    sys.stdout.write(
        json.dumps(
            {
                "run_id": run.id,
                "status": run.status,
                "dataset": run.dataset,
                "strategy": run.strategy,
                "model": run.model,
                "metrics": summary,
                "manifest": run.manifest,
            },
            indent=2,
        )
        + "\n"
    )


@runs_app.command("export")
@export_options
def export(
    run_id: Annotated[str, typer.Argument(help="Run id (or a unique prefix).")],
    store: StoreOpt = DEFAULT_STORE,
    exporting: ConfigFields | None = None,
) -> None:
    """A run as JSONL for `runs import`: a header line (the run), then one line per result."""
    from thinktree.store import export_run, write_run
    from thinktree.store.config import ExportConfig

    with user_errors():
        options = ExportConfig(**(exporting or {}))
    out, trees = options.out, options.trees
    with _open(store) as db, user_errors():
        run = _run(db, run_id)
        if out is None:
            write_run(db, run.id, sys.stdout, trees=trees)
            return
        count = export_run(db, run.id, out, trees=trees)
    typer.echo(f"exported {count} results of run {run.id} to {out}", err=True)


@runs_app.command("import")
def import_file(
    file: Annotated[str, typer.Argument(help="A file written by `runs export` (.gz or plain).")],
    store: StoreOpt = DEFAULT_STORE,
) -> None:
    """Add an exported run under its own id, only results it lacks; `eval` then resumes it."""
    from thinktree.store import RunStore, import_run

    if not Path(file).is_file():
        fail(f"no file {file}; give one written by `thinktree runs export RUN --out FILE`")
    with user_errors(), RunStore(store) as db:
        report = import_run(db, file)
    typer.echo(
        f"imported {report.added} results into run {report.run_id} "
        f"({report.skipped} already stored)"
    )


@runs_app.command("regrade")
@json_options
def regrade(
    run_id: Annotated[str, typer.Argument(help="Run id (or a unique prefix).")],
    store: StoreOpt = DEFAULT_STORE,
    output: ConfigFields | None = None,
) -> None:
    """Grade a run's stored answers again with this version's grader; update its metrics."""
    from thinktree.eval.regrade import regrade as regrade_run
    from thinktree.grading import Grader
    from thinktree.search.judge import GraderJudge

    with _open(store) as db:
        run = _run(db, run_id)
        with Grader(workers=1) as grader:
            report = regrade_run(db, run.id, GraderJudge(grader))
    changed = [{"problem_id": p, "was": old, "now": new} for p, old, new in report.changed]
    if wants_json(output):
        payload = {"run_id": run.id, "checked": report.checked, "changed": changed,
                   "nodes_changed": report.nodes_changed, "accuracy": report.run.metrics.get("accuracy")}  # fmt: skip
        sys.stdout.write(json.dumps(payload) + "\n")
        return
    out = Console(highlight=False)
    for c in changed:
        out.print(f"{c['problem_id']}: {c['was']} -> {c['now']}")
    acc = report.run.metrics.get("accuracy")
    out.print(
        f"run {run.id}: {report.checked} results checked, {len(changed)} verdicts changed, "
        f"{report.nodes_changed} tree nodes changed; accuracy "
        + ("n/a" if acc is None else f"{acc:.1%}")
    )


@app.command()
@report_options
def report(
    run_ids: Annotated[
        list[str], typer.Argument(help="Runs to compare (the first is the baseline).")
    ],
    store: StoreOpt = DEFAULT_STORE,
    reporting: ConfigFields | None = None,
) -> None:
    """Markdown table comparing runs, pair-wise wins/losses, and a PNG plot."""
    from thinktree.eval.report import (
        ReportConfig,
        build_reports,
        dominance_lines,
        markdown_table,
        pairwise_table,
        plot_accuracy_vs_tokens,
    )

    with user_errors():
        options = ReportConfig(**(reporting or {}))
    plot = options.plot
    with _open(store) as db:
        runs = [_run(db, r) for r in run_ids]
        reports = build_reports([(r, db.results(r.id)) for r in runs], options.common)
    sys.stdout.write(markdown_table(reports) + "\n")
    pair = pairwise_table(reports)
    if pair:
        sys.stdout.write("\n" + pair + "\n")
    dominated = dominance_lines(reports)
    if dominated:
        sys.stdout.write("\n" + dominated + "\n")
    if plot:
        path = plot_accuracy_vs_tokens(reports, Path(plot))
        typer.echo(f"\nplot: {path}", err=True)


@app.command()
@tree_options
def tree(
    run_id: Annotated[str, typer.Argument(help="Run id (or a unique prefix).")],
    problem: Annotated[str, typer.Argument(help="Problem id, or its position in the run.")],
    store: StoreOpt = DEFAULT_STORE,
    text: ConfigFields | None = None,
) -> None:
    """Print a stored MCTS tree as indented text."""
    from thinktree.search.mcts.textview import TreeTextConfig, render_tree

    with user_errors():
        width = TreeTextConfig(**(text or {})).width

    with _open(store) as db:
        run = _run(db, run_id)
        problem_id = problem
        data = db.tree(run.id, problem_id)
        if data is None and problem.isdigit():
            rows = db.results(run.id)
            match = [r for r in rows if r.position == int(problem)]
            if match:
                problem_id = match[0].problem_id
                data = db.tree(run.id, problem_id)
        if data is None:
            have = db.tree_problem_ids(run.id)
            hint = (
                f"; trees stored for e.g. {', '.join(have[:3])}"
                if have
                else "; this run stored no trees (only mcts stores trees)"
            )
            fail(f"no tree for problem {problem!r} in run {run.id}{hint}")
    sys.stdout.write(render_tree(data, width=width) + "\n")
