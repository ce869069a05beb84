"""Build an engine from its configuration."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from thinktree.engines.base import Engine, EngineError


class EngineConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["llamacpp", "openai"] = "llamacpp"
    model: str | None = None
    """llamacpp: embedded model name/alias or a .gguf path (default: the 1.5B).
    openai: the model name the server serves."""
    base_url: str | None = None
    api_key: str | None = None
    parallel: int = Field(4, ge=1, le=256)
    """llama.cpp slots (continuous batching); openai: concurrent requests."""
    ctx_per_slot: int = Field(4096, ge=256)
    threads: int = Field(0, ge=0)
    cache_ram_mib: int = Field(1024, ge=0)
    timeout: float = Field(600.0, gt=0)
    max_retries: int = Field(3, ge=0)
    verbose: bool = False
    chat_template: str | None = None
    """openai: a Jinja file or ``tokenizer_config.json`` holding the model's chat
    template, for servers that cannot render it (SGLang)."""
    policy: str | None = None
    """openai: the evolve round directory (``policy.json``) whose LoRA adapter the server
    serves under ``model``; gives its prompt style and names its adapter in run
    fingerprints. (llama.cpp takes the directory as ``model``.)"""


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
            max_concurrency=config.parallel,
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
        n_parallel=config.parallel,
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
