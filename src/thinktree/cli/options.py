"""Options shared by commands that run a model, and how they become configs."""

from __future__ import annotations

from typing import Annotated

import typer

from thinktree.engines.factory import EngineConfig

ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Embedded model name/alias (default, fast), a .gguf path, "
        "or with --engine openai the served model name.",
    ),
]
EngineOpt = Annotated[str, typer.Option("--engine", help="llamacpp (in-process) or openai.")]
BaseUrlOpt = Annotated[
    str | None, typer.Option("--base-url", help="OpenAI-compatible server URL (--engine openai).")
]
ParallelOpt = Annotated[
    int | None,
    typer.Option(
        "--parallel",
        help="llama.cpp slots / concurrent requests "
        "(default: room for one problem's siblings, at least 4).",
        min=1,
    ),
]
ThreadsOpt = Annotated[int, typer.Option("--threads", help="CPU threads (0 = all).", min=0)]
VerboseOpt = Annotated[bool, typer.Option("--verbose", help="Show llama.cpp's own log output.")]


def engine_config(
    engine: str, model: str | None, base_url: str | None, parallel: int, threads: int, verbose: bool
) -> EngineConfig:
    if engine not in ("llamacpp", "openai"):
        raise ValueError(f"unknown engine {engine!r}; use llamacpp or openai")
    return EngineConfig(
        kind=engine,
        model=model,
        base_url=base_url,
        parallel=parallel,  # type: ignore[arg-type]
        threads=threads,
        verbose=verbose,
    )
