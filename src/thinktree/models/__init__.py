"""Embedded models and model resolution."""

from thinktree.models.assemble import (
    ModelError,
    assemble,
    cache_dir,
    is_assembled,
    model_path,
    verify,
)
from thinktree.models.registry import (
    DEFAULT_MODEL,
    EMBEDDED_MODELS,
    FAST_MODEL,
    EmbeddedModel,
    find_embedded,
)
from thinktree.models.resolve import ResolvedModel, resolve_model

__all__ = [
    "DEFAULT_MODEL",
    "EMBEDDED_MODELS",
    "FAST_MODEL",
    "EmbeddedModel",
    "ModelError",
    "ResolvedModel",
    "assemble",
    "cache_dir",
    "find_embedded",
    "is_assembled",
    "model_path",
    "resolve_model",
    "verify",
]
