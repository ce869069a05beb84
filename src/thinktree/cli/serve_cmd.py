"""`thinktree serve`: the OpenAI-compatible server and the viewer (see :mod:`thinktree.server`)."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import typer

from thinktree.cli.app import app
from thinktree.cli.errors import user_errors
from thinktree.cli.job_options import StoreOpt, serve_options
from thinktree.cli.options import ConfigFields, engine_config, engine_options
from thinktree.store import DEFAULT_STORE


@app.command()
@serve_options
@engine_options
def serve(
    store: StoreOpt = DEFAULT_STORE,
    engine: ConfigFields | None = None,
    serving: ConfigFields | None = None,
) -> None:
    """Serve every strategy as an OpenAI-compatible chat model (thinktree-mcts, ...), and the
    run viewer at /; every solve goes to the run store, which the viewer shows."""
    from thinktree.api import open_runtime
    from thinktree.engines.factory import MIN_SLOTS
    from thinktree.reward.base import NeedsGold, NullScorer
    from thinktree.reward.registry import load_scorer, scorer_kind
    from thinktree.server import ServeConfig, ServerConfig

    with user_errors():
        options = ServeConfig(**(serving or {}))
        if issubclass(scorer_kind(options.scorer), NeedsGold):
            raise ValueError("outcome scorers need the gold answer, which a chat has not")
        # Requests choose their own width: the default is default_slots' floor.
        engine_cfg = engine_config(engine, lambda: MIN_SLOTS)
        verifier = _shipped_verifier(options.scorer, engine_cfg.model)
        scorer = options.scorer or verifier or "none"
        scorer_obj, scorer_id = load_scorer(scorer)
    host, port = options.host, options.port
    with user_errors(), closing(scorer_obj):
        scorers = {"none": NullScorer(), scorer: scorer_obj}
        config = ServerConfig(
            api_key=options.api_key,
            concurrency=options.concurrency,
            queue=options.queue,
            store_path=Path(store),
            evolve_dir=options.evolve_dir,
            scorers=scorers,
            scorer_ids={scorer: scorer_id},
            default_scorer=options.scorer or "none",
            shipped_verifier=verifier,
        )
        typer.echo(
            f"loading the model; serving on http://{host}:{port}/v1, the viewer on "
            f"http://{host}:{port}/",
            err=True,
        )
        with open_runtime(engine_cfg) as runtime:
            _run(runtime, config, host, port)


def _shipped_verifier(given: str | None, model: str | None) -> str | None:
    """Where ``--scorer`` is not given, the verifier shipped with ``model`` that the
    searches taking one score with (said on stderr); else None."""
    from thinktree.reward.registry import shipped_verifier
    from thinktree.search.registry import STRATEGIES

    if given is not None:
        return None
    spec = shipped_verifier(model)
    if spec is not None:
        takers = ", ".join(n for n, cls in STRATEGIES.items() if cls.takes_shipped_verifier)
        typer.echo(
            f"note: {takers} score with the verifier shipped with the model ({spec}) "
            "unless a request names thinktree.scorer; --scorer none turns it off",
            err=True,
        )
    return spec


def _run(runtime: object, config: object, host: str, port: int) -> None:
    import uvicorn

    from thinktree.server import create_app

    uvicorn.run(create_app(runtime, config), host=host, port=port)  # type: ignore[arg-type]
