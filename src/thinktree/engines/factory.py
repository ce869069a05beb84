"""Build an engine from its configuration.

:class:`EngineConfig` is the one description of an engine; its field docstrings
are the help of the ``--engine``, ``--model``... options of every command that
runs a model (:mod:`thinktree.cli.options` generates them).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from thinktree.engines.base import Engine, EngineError

MIN_SLOTS = 4
"""Slots an engine gets when none are asked for (and the least a search is given)."""


class EngineConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    kind: Literal["llamacpp", "openai"] = "llamacpp"
    """llamacpp (in-process) or openai (any OpenAI-compatible server)."""
    model: str | None = None
    """Embedded model name/alias (default, fast), a .gguf path, or with the openai
    engine the served model name."""
    base_url: str | None = None
    """OpenAI-compatible server URL (openai engine)."""
    api_key: str | None = None
    """The server's key (openai engine); default $THINKTREE_API_KEY or $OPENAI_API_KEY."""
    parallel: int | None = Field(None, ge=1, le=256)
    """llama.cpp slots / concurrent requests (default: room for one problem's siblings,
    at least 4)."""
    ctx_per_slot: int = Field(4096, ge=256)
    """Context tokens of each llama.cpp slot."""
    threads: int = Field(0, ge=0)
    """CPU threads (0 = all)."""
    cache_ram_mib: int = Field(1024, ge=0)
    """llama.cpp's host-RAM prompt cache in MiB (0 = off)."""
    timeout: float = Field(600.0, gt=0)
    """Seconds one request to an openai server may take."""
    max_retries: int = Field(3, ge=0)
    """Retries of a failed request to an openai server."""
    verbose: bool = False
    """Show llama.cpp's own log output."""
    chat_template: str | None = None
    """openai: a Jinja file or ``tokenizer_config.json`` holding the model's chat
    template, for servers that cannot render it (SGLang)."""
    policy: str | None = None
    """openai: the evolve round directory (``policy.json``) whose LoRA adapter the server
    serves under ``model``; gives its prompt style and names its adapter in run
    fingerprints. (llama.cpp takes the directory as ``model``.)"""

    @model_validator(mode="before")
    @classmethod
    def _known_kind(cls, data: Any) -> Any:
        # Before the fields, so that the message names the engine, not the field.
        kind = data.get("kind", "llamacpp") if isinstance(data, dict) else "llamacpp"
        if kind not in ("llamacpp", "openai"):
            raise ValueError(f"unknown engine {kind!r}; use llamacpp or openai")
        return data

    @property
    def slots(self) -> int:
        return MIN_SLOTS if self.parallel is None else self.parallel


def create_engine(config: EngineConfig, progress: Callable[[int], None] | None = None) -> Engine:
    """A ready engine; raises EngineError or ModelError with a one-line message."""
    if config.kind == "openai":
        from thinktree.engines.openai import OpenAIEngine

        if not config.base_url:
            raise EngineError("--engine openai needs --base-url URL (e.g. http://localhost:8000)")
        if not config.model:
            raise EngineError("--engine openai needs --model NAME (the model the server serves)")
        api_key = (
            config.api_key
            or os.environ.get("THINKTREE_API_KEY")
            or os.environ.get("OPENAI_API_KEY")
        )
        engine = OpenAIEngine(
            config.base_url,
            config.model,
            api_key=api_key,
            max_concurrency=config.slots,
            timeout=config.timeout,
            max_retries=config.max_retries,
            chat_template=config.chat_template,
        )
        if config.policy is not None:
            from thinktree.models.policy import read_policy

            try:
                policy = read_policy(Path(config.policy).expanduser())
            except BaseException:
                engine.close()
                raise
            # What the runtime reads (as for llama.cpp): the served adapter's
            # identity and the prompt style its training data used.
            engine.adapter_sha256 = policy.adapter_sha256
            engine.prompt_style = policy.prompt_style
        return engine
    if config.policy is not None or config.chat_template is not None:
        raise EngineError(
            "--policy and --chat-template are for --engine openai; with llama.cpp give the "
            "round directory as --model (the GGUF carries its chat template)"
        )
    from thinktree.engines.llamacpp import LlamaCppEngine, LlamaCppOptions
    from thinktree.models import resolve_model

    resolved = resolve_model(config.model, progress=progress)
    # An adapter comes with its policy (``--model DIR/round-r``), so that the run
    # fingerprint, which names the policy's adapter, always describes what is served.
    adapters = [str(resolved.adapter)] if resolved.adapter else []
    options = LlamaCppOptions(
        n_parallel=config.slots,
        ctx_per_slot=config.ctx_per_slot,
        threads=config.threads,
        cache_ram_mib=config.cache_ram_mib,
        verbose=config.verbose,
        lora=tuple((path, 1.0) for path in adapters),
    )
    engine = LlamaCppEngine(resolved.path, options, name=resolved.name)
    # What identifies the policy beyond the model file (an evolved policy: its
    # adapter and the prompt style its training data used); read by the runtime.
    engine.model_sha256 = resolved.digest()
    engine.adapter_sha256 = resolved.adapter_sha256
    engine.prompt_style = resolved.prompt_style
    return engine
