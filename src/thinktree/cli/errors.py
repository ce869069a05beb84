"""One-line user errors at the CLI boundary."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from pydantic import ValidationError


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` on stderr and exit non-zero."""
    typer.echo(f"error: {message}", err=True)
    sys.stdout.flush()
    raise typer.Exit(code)


def user_error_message(exc: BaseException) -> str | None:
    """The one-line message for errors a user can cause; None for programming errors."""
    from thinktree.engines.base import EngineError
    from thinktree.models import ModelError
    from thinktree.reward.ppm import PPMError
    from thinktree.store import StoreError

    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()))
            msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
            parts.append(f"{where}: {msg}" if where else msg)
        return "; ".join(parts)
    if isinstance(exc, (EngineError, ModelError, PPMError, StoreError, ValueError, OSError)):
        return " ".join(str(exc).split()) or type(exc).__name__
    return None


@contextmanager
def user_errors(suffix: str = "") -> Iterator[None]:
    """Turn errors a user can cause into ``fail``; let programming errors through."""
    try:
        yield
    except typer.Exit:
        raise
    except Exception as exc:
        message = user_error_message(exc)
        if message is None:
            raise
        fail(message + suffix)
