"""thinktree: deep thinking for small language models on math.

The public API: :func:`solve`, :func:`open_runtime`, and the configuration types.
Submodules load lazily so that ``import thinktree`` stays cheap.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_API = {
    "solve": "thinktree.api",
    "solve_many": "thinktree.api",
    "open_runtime": "thinktree.api",
    "Runtime": "thinktree.api",
    "SearchConfig": "thinktree.search.config",
    "EngineConfig": "thinktree.engines.factory",
    "Problem": "thinktree.problems.problem",
}


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'thinktree' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = sorted(_API)
