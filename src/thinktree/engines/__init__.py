"""Engines: batched completion backends."""

from thinktree.engines.base import (
    Completion,
    CompletionRequest,
    Engine,
    EngineError,
    EngineStats,
    PromptTooLongError,
    TokenLogprob,
)

__all__ = [
    "Completion",
    "CompletionRequest",
    "Engine",
    "EngineError",
    "EngineStats",
    "PromptTooLongError",
    "TokenLogprob",
]
