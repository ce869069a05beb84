"""`thinktree view`: the viewer over a run store, no model loaded (see :mod:`thinktree.viewer`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from thinktree.cli.app import app
from thinktree.cli.errors import fail, user_errors
from thinktree.cli.options import ApiKeyOpt, EvolveDirOpt, NoAuthOpt

DEFAULT_STORE = "thinktree-runs.db"


@app.command()
def view(
    run: Annotated[
        str | None, typer.Argument(help="Run id (or a unique prefix) whose page to open.")
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store", help=f"Run store (default {DEFAULT_STORE}, or EVOLVE/runs.db with --evolve)."
        ),
    ] = None,
    evolve: EvolveDirOpt = None,
    host: Annotated[str, typer.Option(help="Address to bind (loopback unless a key is set).")] = (
        "127.0.0.1"
    ),
    port: Annotated[
        int, typer.Option(help="Port to listen on (0: any free port).", min=0, max=65535)
    ] = 8000,
    api_key: ApiKeyOpt = None,
    no_auth: NoAuthOpt = False,
) -> None:
    """Browse stored runs and their search trees in a web browser; prints the URL of RUN."""
    from thinktree.server import ServerConfig, check_bind, create_app
    from thinktree.server.listen import bind, url_of
    from thinktree.viewer import run_url

    with user_errors():
        check_bind(host, api_key, no_auth)
        evolve_dir = Path(evolve) if evolve else None
        if evolve_dir is not None and not evolve_dir.is_dir():
            raise ValueError(f"--evolve {evolve_dir} is not a directory")
        store_path = Path(store or (evolve_dir / "runs.db" if evolve_dir else DEFAULT_STORE))
        path = run_url(_resolve_run(store_path, run)) if run else "/"
        if not store_path.is_file():
            typer.echo(
                f"no run store at {store_path} yet; the runs page fills in once a run writes it",
                err=True,
            )
        config = ServerConfig(api_key=api_key, store_path=store_path, evolve_dir=evolve_dir)
        application = create_app(None, config)
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
