"""`thinktree rescore`: best-of-N over a stored sampling run's samples."""

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
) -> None:
    """Best-of-N without generating again: the scorer picks among the run's samples."""
    from thinktree.eval.rescore import rescore as rescore_run
    from thinktree.grading import Grader
    from thinktree.reward.base import step_scorer
    from thinktree.reward.registry import load_scorer
    from thinktree.search.judge import GraderJudge
    from thinktree.store import RunStore

    with user_errors(), RunStore(store, create=False) as db:
        source = db.get_run(run_id)
        scorer_obj, scorer_id = load_scorer(scorer)
        if step_scorer(scorer_obj) is None:
            raise ValueError(f"rescoring needs a learned scorer (ppm:DIR), not {scorer!r}")
        with closing(scorer_obj), Grader(workers=1) as grader:
            run = rescore_run(db, source.id, scorer_obj, scorer_id, GraderJudge(grader))
    sys.stdout.write(json.dumps({"run_id": run.id, "source": source.id, **run.metrics}) + "\n")
