"""`thinktree rescore`: a scored selection over a stored sampling run's samples."""

from __future__ import annotations

import json
import sys
from contextlib import closing
from typing import Annotated

import typer

from thinktree.cli.app import app
from thinktree.cli.errors import user_errors
from thinktree.cli.job_options import StoreOpt
from thinktree.store import DEFAULT_STORE


@app.command()
def rescore(
    run_id: Annotated[str, typer.Argument(help="A stored sc run (its samples are reused).")],
    scorer: Annotated[str, typer.Option(help="The scorer that picks: ppm:DIR.")],
    store: StoreOpt = DEFAULT_STORE,
    select: Annotated[
        str,
        typer.Option(
            help="The rule that picks: best (the best-scored sample, best-of-N) or weighted "
            "(scores summed per answer class, each as (s + 1) / 2)."
        ),
    ] = "best",
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the rescored run's record as JSON.")
    ] = False,
) -> None:
    """Best-of-N or a weighted vote without generating again: the scorer's values of
    the run's samples pick the answer."""
    from thinktree.eval.rescore import RESCORE_RULES
    from thinktree.eval.rescore import rescore as rescore_run
    from thinktree.grading import Grader
    from thinktree.reward.base import step_scorer
    from thinktree.reward.registry import load_scorer
    from thinktree.search.judge import GraderJudge
    from thinktree.store import RunStore

    with user_errors(), RunStore(store, create=False) as db:
        if select not in RESCORE_RULES:  # before a PPM is loaded
            raise ValueError(f"unknown --select {select!r}; use {' or '.join(RESCORE_RULES)}")
        source = db.get_run(run_id)
        scorer_obj, scorer_id = load_scorer(scorer)
        if step_scorer(scorer_obj) is None:
            raise ValueError(f"rescoring needs a learned scorer (ppm:DIR), not {scorer!r}")
        with closing(scorer_obj), Grader(workers=1) as grader:
            run = rescore_run(
                db, source.id, scorer_obj, scorer_id, GraderJudge(grader), select=select
            )
    if json_out:
        record = {"run_id": run.id, "source": source.id, "select": select, **run.metrics}
        sys.stdout.write(json.dumps(record) + "\n")
        return

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1%}"

    metrics = run.metrics
    typer.echo(
        f"{run.id}: {select} of {source.id}'s samples by {scorer_id}: accuracy "
        f"{pct(metrics['accuracy'])} ({metrics['correct']}/{metrics['graded']}); "
        f"the source's {pct(source.metrics.get('accuracy'))}"
    )
