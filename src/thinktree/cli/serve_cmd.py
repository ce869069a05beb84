"""`thinktree serve`: the OpenAI-compatible server and the viewer (see :mod:`thinktree.server`)."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer

from thinktree.cli.app import app
from thinktree.cli.errors import user_errors
from thinktree.cli.options import (
    ApiKeyOpt,
    ConfigFields,
    EvolveDirOpt,
    NoAuthOpt,
    engine_config,
    engine_options,
)


@app.command()
@engine_options
def serve(
    host: Annotated[str, typer.Option(help="Address to bind (loopback unless a key is set).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    store: Annotated[
        str, typer.Option("--store", help="Run store every solve goes to (and the viewer shows).")
    ] = "thinktree-runs.db",
    evolve: EvolveDirOpt = None,
    scorer: Annotated[
        str, typer.Option(help="Default scorer: none or ppm:DIR (requests may name it or none).")
    ] = "none",
    api_key: ApiKeyOpt = None,
    no_auth: NoAuthOpt = False,
    concurrency: Annotated[int, typer.Option(help="Solves running at once.", min=1)] = 1,
    queue: Annotated[int, typer.Option(help="Requests waiting for a slot (then 429).", min=0)] = 8,
    engine: ConfigFields | None = None,
) -> None:
    """Serve every strategy as an OpenAI-compatible chat model (thinktree-mcts, ...), and the
    run viewer at /."""
    from thinktree.api import open_runtime
    from thinktree.engines.factory import MIN_SLOTS
    from thinktree.reward.base import NeedsGold, NullScorer
    from thinktree.reward.registry import load_scorer, scorer_kind
    from thinktree.server import ServerConfig, check_bind

    with user_errors():
        check_bind(host, api_key, no_auth)
        evolve_dir = Path(evolve) if evolve else None
        if evolve_dir is not None and not evolve_dir.is_dir():
            raise ValueError(f"--evolve {evolve_dir} is not a directory")
        if issubclass(scorer_kind(scorer), NeedsGold):
            raise ValueError("outcome scorers need the gold answer, which a chat has not")
        # Requests choose their own width: the default is default_slots' floor.
        engine_cfg = engine_config(engine, lambda: MIN_SLOTS)
        scorer_obj, scorer_id = load_scorer(scorer)
    with user_errors(), closing(scorer_obj):
        scorers = {"none": NullScorer(), scorer: scorer_obj}
        config = ServerConfig(
            api_key=api_key,
            concurrency=concurrency,
            queue=queue,
            store_path=Path(store),
            evolve_dir=evolve_dir,
            scorers=scorers,
            scorer_ids={scorer: scorer_id},
            default_scorer=scorer,
        )
        typer.echo(
            f"loading the model; serving on http://{host}:{port}/v1, the viewer on "
            f"http://{host}:{port}/",
            err=True,
        )
        with open_runtime(engine_cfg) as runtime:
            _run(runtime, config, host, port)


def _run(runtime: object, config: object, host: str, port: int) -> None:
    import uvicorn

    from thinktree.server import create_app

    uvicorn.run(create_app(runtime, config), host=host, port=port)  # type: ignore[arg-type]
