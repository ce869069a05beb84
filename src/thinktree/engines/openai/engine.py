"""``OpenAIEngine``: the :class:`~thinktree.engines.base.Engine` protocol over HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from thinktree.engines.base import (
    Completion,
    CompletionRequest,
    EngineError,
    EngineStats,
    complete_concurrently,
)
from thinktree.engines.openai.chat import ChatRenderer
from thinktree.engines.openai.responses import (
    completion_body,
    completions_from_response,
    is_context_error,
)
from thinktree.engines.openai.transport import Transport, normalize_base_url, one_line


class OpenAIEngine:
    """Batched completion on any OpenAI-compatible ``/v1/completions`` server.

    Each request of a batch is one HTTP call (``n`` completions of one prompt, the
    prompt evaluated once), sent from a pool of ``max_concurrency`` threads over one
    pooled ``httpx.Client``; results come back in request order. Connection failures,
    timeouts, HTTP 429 and 5xx are retried ``max_retries`` times with exponential
    backoff, then raise :class:`EngineError`; other 4xx raise at once with the server's
    message, except a prompt too long for the context, which fails its request alone
    (completions with ``error`` set) as in ``llamacpp.py``.

    ``base_url`` may end in ``/v1`` or not. ``model`` is sent with every request (vLLM
    and SGLang route by it; llama.cpp ignores it). ``extra_body`` entries are merged
    into every completions body (an entry set to None removes one of ours, see
    :func:`.responses.completion_body`). ``chat_template`` is a path to a Jinja file or
    a ``tokenizer_config.json``, needed only where the server cannot render the
    template itself (SGLang). ``backoff`` is the first wait between retries, in seconds.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        max_concurrency: int = 8,
        timeout: float = 300.0,
        max_retries: int = 3,
        extra_body: Mapping[str, Any] | None = None,
        chat_template: str | Path | None = None,
        backoff: float = 0.5,
    ) -> None:
        if max_concurrency < 1:
            raise EngineError(f"max_concurrency must be at least 1, got {max_concurrency}")
        if not model:
            raise EngineError("the model name is empty; give the name the server serves")
        self.base_url = normalize_base_url(base_url)
        self.model = model
        self.name = f"openai:{model}"
        self.stats = EngineStats()
        self.extra_body = dict(extra_body or {})
        self._transport = Transport(
            self.base_url,
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
            max_connections=max_concurrency,
        )
        self._chat = ChatRenderer(self._transport, model, chat_template)
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="openai")

    # -- completion -------------------------------------------------------------------------

    def complete(self, requests: Sequence[CompletionRequest]) -> list[list[Completion]]:
        return complete_concurrently(self._pool, self._complete_one, requests)

    def _complete_one(self, request: CompletionRequest) -> list[Completion]:
        started = time.perf_counter()
        answer = self._transport.request(
            "POST", "/v1/completions", completion_body(request, self.model, self.extra_body)
        )
        seconds = time.perf_counter() - started
        if not answer.ok:
            message = answer.message
            if is_context_error(answer.status, answer.payload, message):
                with self._lock:
                    self.stats.extra["failed_requests"] = (
                        self.stats.extra.get("failed_requests", 0.0) + 1
                    )
                return [
                    Completion("", "error", 0, 0, 0, None, seconds, error=message)
                    for _ in range(request.n)
                ]
            raise EngineError(f"{answer.url} answered HTTP {answer.status}: {message}")
        completions, account = completions_from_response(
            request, answer.json_object(), seconds, answer.url
        )
        with self._lock:
            stats = self.stats
            stats.requests += 1
            stats.generated_tokens += sum(c.generated_tokens for c in completions)
            stats.prompt_tokens += account.evaluated
            stats.cached_tokens += sum(c.cached_tokens for c in completions)
            stats.prompt_seconds += account.prompt_seconds
            stats.generation_seconds += account.generation_seconds
            stats.extra["request_seconds"] = stats.extra.get("request_seconds", 0.0) + seconds
            stats.extra["retries"] = float(self._transport.retries)
        return completions

    # -- chat template and model ------------------------------------------------------------

    def render_chat(self, messages: Sequence[dict[str, str]]) -> str:
        """The prompt for ``messages`` in the model's own chat template, assistant turn open.

        See :mod:`thinktree.engines.openai.chat` for where the template comes from.
        """
        return self._chat.render(messages)

    def served_models(self) -> list[str]:
        """Model names the server lists on ``/v1/models`` (ids, then llama.cpp aliases)."""
        answer = self._transport.request("GET", "/v1/models")
        if not answer.ok:
            raise EngineError(f"{answer.url} answered HTTP {answer.status}: {answer.message}")
        data = answer.json_object().get("data")
        if not isinstance(data, list):
            raise EngineError(f"{answer.url} returned no 'data' list of models")
        names: list[str] = []
        for entry in data:
            if not isinstance(entry, dict):
                continue
            for name in [entry.get("id"), *(entry.get("aliases") or ())]:
                if isinstance(name, str) and name and name not in names:
                    names.append(name)
        return names

    def check_model(self) -> None:
        """Raise :class:`EngineError` listing the served models unless ours is one of them.

        llama.cpp's server answers whatever ``model`` a request names, but it lists its
        file path; pass that path (or an alias it was started with) to be checked here.
        """
        names = self.served_models()
        if self.model not in names:
            served = ", ".join(names) or "none"
            message = f"{self.base_url} does not serve model {self.model!r}; it serves: {served}"
            raise EngineError(one_line(message, 500))

    # -- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._transport.close()

    def __enter__(self) -> OpenAIEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
