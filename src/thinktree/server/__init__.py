"""The OpenAI-compatible server: every strategy behind ``/v1/chat/completions``.

The model name picks the strategy (``thinktree-mcts``...); see
:mod:`thinktree.server.request` for how request fields become the search config,
:mod:`thinktree.server.responses` for what comes back, :mod:`thinktree.server.gate`
for the queue and :mod:`thinktree.server.recorder` for what is stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from thinktree.server.config import ServeConfig, ServerConfig, ViewConfig, check_bind

if TYPE_CHECKING:
    from thinktree.server.app import create_app

__all__ = ["ServeConfig", "ServerConfig", "ViewConfig", "check_bind", "create_app"]


def __getattr__(name: str) -> Any:
    # Every command's options are generated from config models at start, serve's and
    # view's from this package's; FastAPI loads only when an application is made.
    if name == "create_app":
        from thinktree.server.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
