"""`thinktree eval`: a strategy on a benchmark slice, stored and resumable."""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack

from rich.console import Console

from thinktree.cli.app import app
from thinktree.cli.errors import user_errors
from thinktree.cli.job_options import StoreOpt, json_options, scorer_options
from thinktree.cli.options import (
    ConfigFields,
    chosen_scorer,
    engine_config,
    engine_options,
    eval_job_options,
    fanout_options,
    say_notice,
    search_config,
    search_options,
    source_options,
)
from thinktree.cli.output_configs import wants_json
from thinktree.cli.progress import result_progress
from thinktree.store import DEFAULT_STORE


@app.command("eval")
@eval_job_options
@source_options
@fanout_options
@search_options
@engine_options
@json_options
@scorer_options
def eval_command(
    scoring: ConfigFields | None = None,
    store: StoreOpt = DEFAULT_STORE,
    output: ConfigFields | None = None,
    engine: ConfigFields | None = None,
    search: ConfigFields | None = None,
    fanout: ConfigFields | None = None,
    source: ConfigFields | None = None,
    job: ConfigFields | None = None,
) -> None:
    """Run a strategy on a benchmark slice; kill it and run it again to resume."""
    from thinktree.eval import Evaluation
    from thinktree.eval.fanout import FanoutConfig, open_solver
    from thinktree.eval.job_config import EvalJobConfig
    from thinktree.problems import ProblemSource, load_problems
    from thinktree.reward.choice import ScorerChoice
    from thinktree.search import registry
    from thinktree.store import RunStore

    console = Console(stderr=True, highlight=False)
    with user_errors():
        sitting = EvalJobConfig(**(job or {}))
        scorer = chosen_scorer(ScorerChoice(**(scoring or {})).scorer, search, engine)
        config = search_config(search, scorer)
        say_notice(config, scorer)
        fan = FanoutConfig(**(fanout or {}))
        engine_cfg = engine_config(engine, lambda: registry.default_slots(config))
        # An empty slice is said before a model is loaded, not after.
        chosen, dataset, data_hash = load_problems(ProblemSource(**(source or {})))
        run_store = RunStore(store)
    workers = ExitStack()
    loading = f"starting {fan.workers} Ray workers" if fan.enabled else "loading model"
    with user_errors(), console.status(loading):
        searcher = workers.enter_context(open_solver(engine_cfg, config, scorer, fan))
    with workers, run_store:
        with user_errors():
            evaluation = Evaluation(
                chosen,
                dataset=dataset,
                dataset_hash=data_hash,
                solver=searcher.solver,
                store=run_store,
                model_id=searcher.model_id,
                scorer_id=searcher.scorer_id,
                new_run=sitting.new_run,
                tokens_per_second=searcher.tokens_per_second,
            )
            plan = evaluation.plan()
        verb = "resuming" if plan.resumed else "new run"
        console.print(
            f"{verb} [bold]{plan.run.id}[/]: {len(plan.todo)} of {len(chosen)} problems to solve"
            f" ({plan.done} stored); estimate ~{plan.estimated_tokens:,} tokens,"
            f" ~{plan.estimated_seconds / 60:.1f} min"
        )
        with (
            result_progress(console, config.strategy, len(plan.todo)) as on_result,
            user_errors(" (stored results are kept; rerun to resume)"),
        ):
            outcome = evaluation.run_all(
                window=sitting.window or registry.default_window(config, engine_cfg.slots),
                max_minutes=sitting.max_minutes,
                on_result=on_result,
            )
    summary = outcome.summary
    if wants_json(output):
        payload = {"run_id": outcome.run.id, "status": outcome.run.status, **summary}
        sys.stdout.write(json.dumps(payload) + "\n")
    else:
        out = Console(highlight=False)
        acc = summary["accuracy"]
        ci = summary["ci95"]
        acc_text = f"{acc:.1%} [{ci[0]:.1%}, {ci[1]:.1%}]" if acc is not None else "n/a"
        out.print(
            f"run {outcome.run.id} ({outcome.run.status}): accuracy {acc_text} on "
            f"{summary['graded']} problems, {summary['tokens_per_problem']:.0f} tokens and "
            f"{summary['seconds_per_problem']:.1f} s per problem"
        )
    if summary.get("failed"):
        console.print(
            f"{summary['failed']} problems stored as failed (their Ray workers died; the reason"
            f" is in each row's extra.failure)"
        )
    if outcome.stopped:
        console.print("stopped before the end; run the same command again to resume")
