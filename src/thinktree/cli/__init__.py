"""Command-line interface: a thin layer over thinktree's Python API.

Each command lives in its own module and registers itself on ``app``.
"""

from __future__ import annotations

# Importing a command module registers its commands.
from thinktree.cli import (  # noqa: F401
    bench_cmd,
    eval_cmd,
    evolve_cmd,
    exec_cmd,
    grade_cmd,
    models_cmd,
    ppm_cmd,
    rescore_cmd,
    runs_cmd,
    serve_cmd,
    solve_cmd,
    view_cmd,
)
from thinktree.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
