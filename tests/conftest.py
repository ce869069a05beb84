"""Shared fixtures: the real sandbox and grader, and helpers for scripted engines."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


def assistant_part(prompt: str) -> str:
    """What the scripted "model" has written so far (after the opened assistant turn)."""
    return prompt.split("<assistant>\n", 1)[1]


def depth_of(prompt: str) -> int:
    """Number of executed cells so far in a scripted prompt."""
    return assistant_part(prompt).count("Output:")


def cell(code: str) -> str:
    return f"\n```python\n{code}\n```\n"


def answer(text: str) -> str:
    return f"\nAnswer: \\boxed{{{text}}}"


@pytest.fixture(scope="session")
def sandbox() -> Iterator[object]:
    from thinktree.sandbox import Sandbox, SandboxConfig

    with Sandbox(SandboxConfig(workers=2)) as box:
        yield box


@pytest.fixture(scope="session")
def grader() -> Iterator[object]:
    from thinktree.grading import Grader

    with Grader(workers=1) as g:
        yield g


@pytest.fixture(scope="session")
def fast_engine() -> Iterator[object]:
    """The fast embedded model on llama.cpp, 4 slots (tests that use it are marked model)."""
    from thinktree.engines.llamacpp import LlamaCppEngine, LlamaCppOptions
    from thinktree.models import resolve_model

    engine = LlamaCppEngine(
        resolve_model("fast").path, LlamaCppOptions(n_parallel=4, ctx_per_slot=1024)
    )
    yield engine
    engine.close()
