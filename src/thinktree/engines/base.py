"""The engine protocol: batched text completion.

An engine knows nothing about steps or search. It takes a batch of requests and
returns, for each request, ``n`` completions of its prompt. A request with
``n > 1`` asks for several continuations of one prompt while the prompt is
evaluated once (llama.cpp ``n_cmpl``, OpenAI ``n``): the call MCTS uses to expand
siblings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


class EngineError(RuntimeError):
    """A request could not be served (bad request, server error, unreachable)."""


class PromptTooLongError(EngineError):
    """The prompt plus ``max_tokens`` does not fit the context of one slot."""


@dataclass(frozen=True)
class CompletionRequest:
    prompt: str
    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int = 0
    n: int = 1
    logprobs: int = 0
    """Top-k alternatives per generated token; 0 asks for no log-probabilities."""


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass
class Completion:
    """One continuation of a request's prompt.

    ``prompt_tokens`` counts the prompt tokens evaluated for this completion and
    ``cached_tokens`` those reused from the prefix cache. For the 2nd..nth
    completion of a request with ``n > 1`` the prompt was evaluated once, for the
    first completion, so these report 0 evaluated and the whole prompt as reused.
    """

    text: str
    finish_reason: str
    generated_tokens: int
    prompt_tokens: int = 0
    cached_tokens: int = 0
    logprobs: list[TokenLogprob] | None = None
    seconds: float = 0.0
    prompt_seconds: float = 0.0
    """Time the server spent evaluating the prompt, on the first completion only."""
    error: str | None = None
    """Set when this request failed alone (e.g. its prompt was too long); text is empty."""

    @property
    def mean_logprob(self) -> float | None:
        if not self.logprobs:
            return None
        return sum(t.logprob for t in self.logprobs) / len(self.logprobs)


@dataclass
class EngineStats:
    """Running totals an engine keeps across calls (for reports and benchmarks)."""

    requests: int = 0
    generated_tokens: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    prompt_seconds: float = 0.0
    generation_seconds: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class Engine(Protocol):
    """Batched completion. Implementations must be safe to call from one thread."""

    name: str
    """Model identity recorded in run manifests (e.g. file name and sha256 prefix)."""

    stats: EngineStats

    def complete(self, requests: Sequence[CompletionRequest]) -> list[list[Completion]]:
        """Serve every request; result ``i`` holds ``requests[i].n`` completions.

        A request that fails on its own (too long a prompt) comes back as
        completions with ``error`` set; failures of the engine itself raise
        :class:`EngineError`.
        """
        ...

    def render_chat(self, messages: Sequence[dict[str, str]]) -> str:
        """Apply the model's own chat template, ending with the assistant turn open."""
        ...

    def close(self) -> None: ...


def complete_concurrently(
    pool: Executor,
    complete_one: Callable[[CompletionRequest], list[Completion]],
    requests: Sequence[CompletionRequest],
) -> list[list[Completion]]:
    """Serve each request of a batch on its own thread of ``pool`` (a lone request on
    the caller's), results in request order: how both served engines batch."""
    if not requests:
        return []
    if len(requests) == 1:
        return [complete_one(requests[0])]
    futures = [pool.submit(complete_one, r) for r in requests]
    return [f.result() for f in futures]
