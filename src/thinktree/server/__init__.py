"""The OpenAI-compatible server: every strategy behind ``/v1/chat/completions``.

The model name picks the strategy (``thinktree-mcts``...); see
:mod:`thinktree.server.request` for how request fields become the search config,
:mod:`thinktree.server.responses` for what comes back, :mod:`thinktree.server.gate`
for the queue and :mod:`thinktree.server.recorder` for what is stored.
"""

from __future__ import annotations

from thinktree.server.app import create_app
from thinktree.server.config import ServerConfig, check_bind

__all__ = ["ServerConfig", "check_bind", "create_app"]
