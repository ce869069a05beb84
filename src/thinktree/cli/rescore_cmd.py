"""`thinktree rescore`: a scored selection over a stored sampling run's samples."""

from __future__ import annotations

import json
import sys
from contextlib import closing
from typing import Annotated

import typer

from thinktree.cli.app import app
from thinktree.cli.errors import user_errors
from thinktree.cli.job_options import StoreOpt, rescore_json_options, rescore_options
from thinktree.cli.options import ConfigFields
from thinktree.cli.output_configs import wants_json
from thinktree.store import DEFAULT_STORE


@app.command()
@rescore_json_options
@rescore_options
def rescore(
    run_id: Annotated[str, typer.Argument(help="A stored sc run (its samples are reused).")],
    rescoring: ConfigFields | None = None,
    store: StoreOpt = DEFAULT_STORE,
    output: ConfigFields | None = None,
) -> None:
    """Best-of-N or a weighted vote without generating again: the scorer's values of
    the run's samples pick the answer."""
    from thinktree.eval.rescore import rescore as rescore_run
    from thinktree.eval.rescore_config import RescoreConfig
    from thinktree.grading import Grader
    from thinktree.reward.base import step_scorer
    from thinktree.reward.registry import load_scorer
    from thinktree.search.judge import GraderJudge
    from thinktree.store import RunStore

    with user_errors():
        options = RescoreConfig(**(rescoring or {}))  # its rule checked before a PPM loads
    scorer, select = options.scorer, options.select
    with user_errors(), RunStore(store, create=False) as db:
        source = db.get_run(run_id)
        scorer_obj, scorer_id = load_scorer(scorer)
        if step_scorer(scorer_obj) is None:
            raise ValueError(f"rescoring needs a learned scorer (ppm:DIR), not {scorer!r}")
        with closing(scorer_obj), Grader(workers=1) as grader:
            run = rescore_run(
                db, source.id, scorer_obj, scorer_id, GraderJudge(grader), select=select
            )
    if wants_json(output):
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
