"""`thinktree view`: the viewer over a run store, no model loaded (see :mod:`thinktree.viewer`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from thinktree.cli.app import app
from thinktree.cli.errors import fail, user_errors
from thinktree.cli.job_options import StoreOpt, view_options
from thinktree.cli.options import ConfigFields
from thinktree.store import DEFAULT_STORE


@app.command()
@view_options
def view(
    ctx: typer.Context,
    run: Annotated[
        str | None, typer.Argument(help="Run id (or a unique prefix) whose page to open.")
    ] = None,
    store: StoreOpt = DEFAULT_STORE,
    viewing: ConfigFields | None = None,
) -> None:
    """Browse stored runs and their search trees in a web browser; prints the URL of RUN.

    With --evolve and no --store, the store is EVOLVE/runs.db."""
    from thinktree.server import ServerConfig, ViewConfig, create_app
    from thinktree.server.listen import bind, url_of
    from thinktree.viewer import run_url

    with user_errors():
        options = ViewConfig(**(viewing or {}))
        evolve_dir = options.evolve_dir
        # Typer's own click: its ParameterSource is not click's, so compare names.
        source = ctx.get_parameter_source("store")
        store_given = source is not None and source.name != "DEFAULT"
        store_path = Path(store if store_given or evolve_dir is None else evolve_dir / "runs.db")
        path = run_url(_resolve_run(store_path, run)) if run else "/"
        if not store_path.is_file():
            typer.echo(
                f"no run store at {store_path} yet; the runs page fills in once a run writes it",
                err=True,
            )
        config = ServerConfig(api_key=options.api_key, store_path=store_path, evolve_dir=evolve_dir)
        application = create_app(None, config)
    host, port = options.host, options.port
    try:
        sock = bind(host, port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port} ({exc.strerror or exc})")
    typer.echo(url_of(sock, host, path))
    typer.echo("serving the viewer; Ctrl-C stops it", err=True)
    _serve(application, sock)


def _resolve_run(store_path: Path, run: str) -> str:
    """The full id of ``run`` in the store (StoreError when the store or run is missing)."""
    from thinktree.store import RunStore

    with RunStore(store_path, create=False) as db:
        return db.get_run(run).id


def _serve(application: object, sock: object) -> None:
    from thinktree.server.listen import serve

    serve(application, sock)  # type: ignore[arg-type]
