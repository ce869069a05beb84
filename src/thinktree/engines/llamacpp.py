"""In-process llama.cpp through ``xllamacpp``.

One ``xllamacpp.Server`` holds the model and ``n_parallel`` slots; its handlers
release the GIL, so each request of a batch is sent from its own thread and the
server's loop decodes all active slots together (continuous batching). A request
with ``n > 1`` is one call with ``n_cmpl``: the prompt is evaluated once and its
KV cache copied to the sibling slots. ``cache_prompt`` keeps each slot's last
sequence, so a request that extends a previous one evaluates only the new
tokens.

Surprises, measured on xllamacpp 2026.10.11549:
- ``usage``/``timings`` of a multi-completion answer describe the first task only,
  so for ``n > 1`` we ask for one log-probability per token and count tokens from
  those (a few per cent of speed).
- Sampling follows OpenAI semantics (temperature, top_p); llama.cpp's own
  defaults ``top_k=40, min_p=0.05`` are switched off so that results compare with
  vLLM/SGLang runs.
- The server also listens on HTTP; we bind it to 127.0.0.1 on a random port and
  use it only to render the model's chat template (``/apply-template``).
- Output is exactly reproducible with one slot at temperature 0. With several
  slots, batched matrix products can change the last bits of logits, so sampled
  output may differ between runs even with the same seeds.
- LoRA adapters (GGUF, see ``thinktree.train.export.lora_gguf``) are loaded with the
  model and applied to every request; a request can change their scale (llama.cpp's
  ``lora`` field), but requests with different scales are not batched together and
  a slot whose scale changes loses its prefix cache. Two traps, both measured: a
  request *without* the field reuses a slot's cache whatever scale filled it, so
  with adapters loaded every request states its scales; and the host-RAM prompt
  cache (``cache_ram_mib``) restores saved states by tokens alone, whatever scale
  computed them, so a scale override is refused unless ``cache_ram_mib=0``.
- When another process keeps the cores busy, use ``threads=1``: llama.cpp's
  threads wait on each other by spinning, and with 2 threads competing for 2 busy
  cores one token took 2.5 s instead of 40 ms here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from thinktree.engines.base import (
    Completion,
    CompletionRequest,
    EngineError,
    EngineStats,
    TokenLogprob,
    complete_concurrently,
)
from thinktree.engines.openai.transport import Transport


@dataclass(frozen=True)
class LlamaCppOptions:
    n_parallel: int = 4
    ctx_per_slot: int = 4096
    threads: int = 0
    """0 = all cores the process may use."""
    cache_ram_mib: int = 1024
    n_batch: int = 512
    verbose: bool = False
    embedding: bool = False
    lora: tuple[tuple[str, float], ...] = ()
    """LoRA adapters as (GGUF adapter path, scale), applied to every request."""


def _default_threads() -> int:
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def completion_payload(request: CompletionRequest) -> dict[str, Any]:
    """The ``handle_completions`` body for one request."""
    payload: dict[str, Any] = {
        "prompt": request.prompt,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "top_k": 0,
        "min_p": 0.0,
        "seed": request.seed & 0xFFFFFFFF,
        "stop": list(request.stop),
        "cache_prompt": True,
    }
    n_probs = request.logprobs
    if request.n > 1:
        payload["n_cmpl"] = request.n
        n_probs = max(n_probs, 1)  # token counts per completion come from these
    if n_probs:
        payload["n_probs"] = n_probs
    return payload


def _token_logprobs(content: list[dict[str, Any]]) -> list[TokenLogprob]:
    return [
        TokenLogprob(
            token=item.get("token", ""),
            logprob=float(item.get("logprob", 0.0)),
            top=tuple(
                (alt.get("token", ""), float(alt.get("logprob", 0.0)))
                for alt in item.get("top_logprobs", ())
            ),
        )
        for item in content
    ]


@dataclass(frozen=True)
class NextTokenLogprobs:
    """What llama.cpp says about the token after one prompt (see
    :meth:`LlamaCppEngine.next_token_logprobs`)."""

    top: dict[int, float]
    """Token id -> log-probability for the ``top`` most likely tokens (full-vocabulary
    softmax of the logits, no temperature or truncation); empty when ``error`` is set."""
    prompt_tokens: int = 0
    """Prompt tokens evaluated for this request."""
    cached_tokens: int = 0
    """Prompt tokens reused from the slot's prefix cache."""
    seconds: float = 0.0
    error: str | None = None
    """Set when this prompt failed alone (longer than a slot's context)."""


class LlamaCppEngine:
    """Batched completion on an in-process llama.cpp server."""

    def __init__(
        self,
        model_path: str | Path,
        options: LlamaCppOptions | None = None,
        name: str | None = None,
    ) -> None:
        import xllamacpp

        self.options = options or LlamaCppOptions()
        opts = self.options
        path = Path(model_path)
        if not path.is_file():
            raise EngineError(f"model file {path} does not exist")
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_parallel = opts.n_parallel
        params.n_ctx = opts.ctx_per_slot * opts.n_parallel
        threads = opts.threads or _default_threads()
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.n_batch = opts.n_batch
        params.cache_ram_mib = opts.cache_ram_mib
        params.hostnames = ["127.0.0.1"]
        params.port = 0
        params.verbosity = 1 if opts.verbose else -1
        if not opts.verbose:
            params.show_timings = False
        if opts.embedding:
            params.embedding = True
            params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_LAST
        for adapter, _ in opts.lora:
            if not Path(adapter).is_file():
                raise EngineError(f"LoRA adapter {adapter} does not exist")
        params.lora_adapters = [
            xllamacpp.CommonAdapterLoraInfo(str(adapter), float(scale))
            for adapter, scale in opts.lora
        ]
        try:
            self._server = xllamacpp.Server(params)
        except Exception as exc:  # xllamacpp raises plain RuntimeError on load failures
            with_lora = f" with LoRA {', '.join(a for a, _ in opts.lora)}" if opts.lora else ""
            raise EngineError(f"llama.cpp could not load {path}{with_lora}: {exc}") from exc
        address = self._server.listening_address
        self._http = address if address.startswith("http") else f"http://{address}"
        self._transport = Transport(
            self._http, api_key=None, timeout=30.0, max_retries=0, backoff=0.0, max_connections=2
        )
        self.name = name or path.stem
        self.model_sha256: str | None = None
        # Generated tokens per wall second of a whole evaluation on 2 cores (prompt
        # processing and lock-step waits included), for up-front estimates only:
        # ~14 for a 0.5B Q4_K_M, ~8 for a 1.5B; scaled by file size.
        size_gb = path.stat().st_size / 1e9
        self.expected_tokens_per_second = max(1.0, 8.0 * 1.12 / max(size_gb, 0.1))
        self.stats = EngineStats()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=opts.n_parallel, thread_name_prefix="llamacpp")

    # -- completion -------------------------------------------------------------------------

    def _complete_one(self, request: CompletionRequest) -> list[Completion]:
        slots = self.options.n_parallel
        if request.n > slots:
            # n_cmpl needs a free slot per completion: serve n in chunks of at most `slots`.
            out: list[Completion] = []
            for chunk, start in enumerate(range(0, request.n, slots)):
                part = replace(request, n=min(slots, request.n - start), seed=request.seed + chunk)
                out.extend(self._complete_one(part))
            return out
        response, seconds, refused = self._send(completion_payload(request))
        if refused is not None:
            return [
                Completion("", "error", 0, 0, 0, None, seconds, error=refused)
                for _ in range(request.n)
            ]
        return self._completions(request, response, seconds)

    def _send(self, payload: dict[str, Any]) -> tuple[dict[str, Any], float, str | None]:
        """(response, seconds, why this one request was refused or None) of one completion
        request, at the adapters' stated scales; EngineError when the server fails as a
        whole, which no other request would escape."""
        if self.options.lora:
            payload["lora"] = self._lora_scales(None)
        started = time.perf_counter()
        try:
            response = self._server.handle_completions(payload)
        except Exception as exc:
            raise EngineError(f"llama.cpp failed: {exc}") from exc
        seconds = time.perf_counter() - started
        if "error" in response or "choices" not in response:
            error = response.get("error", response)
            message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
            kind = error.get("type", "") if isinstance(error, dict) else ""
            if kind == "exceed_context_size_error" or error_is_request_local(message):
                return response, seconds, message
            raise EngineError(f"llama.cpp: {message}")
        return response, seconds, None

    def _completions(
        self, request: CompletionRequest, response: dict[str, Any], seconds: float
    ) -> list[Completion]:
        timings = response.get("timings", {})
        usage = response.get("usage", {})
        prompt_n = int(timings.get("prompt_n", usage.get("prompt_tokens", 0)))
        cache_n = int(timings.get("cache_n", 0))
        choices = sorted(response["choices"], key=lambda c: c.get("index", 0))
        out: list[Completion] = []
        for i, choice in enumerate(choices):
            content = (choice.get("logprobs") or {}).get("content")
            logprobs = _token_logprobs(content) if content is not None else None
            if request.n == 1:
                generated = int(usage.get("completion_tokens", len(logprobs or ())))
            else:
                generated = len(logprobs or ())
            out.append(
                Completion(
                    text=choice.get("text", ""),
                    finish_reason=choice.get("finish_reason") or "stop",
                    generated_tokens=generated,
                    prompt_tokens=prompt_n if i == 0 else 0,
                    cached_tokens=cache_n if i == 0 else prompt_n + cache_n,
                    logprobs=logprobs if request.logprobs else None,
                    seconds=seconds,
                    prompt_seconds=float(timings.get("prompt_ms", 0.0)) / 1000 if i == 0 else 0.0,
                )
            )
        with self._lock:
            self.stats.requests += 1
            self.stats.generated_tokens += sum(c.generated_tokens for c in out)
            self.stats.prompt_tokens += prompt_n
            self.stats.cached_tokens += sum(c.cached_tokens for c in out)
            self.stats.prompt_seconds += float(timings.get("prompt_ms", 0.0)) / 1000
            self.stats.generation_seconds += float(timings.get("predicted_ms", 0.0)) / 1000
        return out

    def complete(self, requests: Sequence[CompletionRequest]) -> list[list[Completion]]:
        return complete_concurrently(self._pool, self._complete_one, requests)

    # -- embeddings -------------------------------------------------------------------------

    def _embed_one(self, text: str) -> list[float]:
        try:
            response = self._server.handle_embeddings({"input": text})
        except Exception as exc:
            raise EngineError(f"llama.cpp failed: {exc}") from exc
        if "error" in response or "data" not in response:
            error = response.get("error", response)
            message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
            raise EngineError(f"llama.cpp embedding failed: {message}")
        return list(response["data"][0]["embedding"])

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Last-token hidden states (L2-normalised) of each text, in order.

        Needs ``LlamaCppOptions(embedding=True)``. Each text is one request, sent
        from its own thread so the slots work concurrently; a text that extends an
        earlier one reuses that slot's prefix cache.
        """
        if not self.options.embedding:
            raise EngineError("this engine was started without embedding=True")
        return list(self._pool.map(self._embed_one, texts))

    # -- the server's HTTP endpoint (chat template, tokens) ---------------------------------

    def _post(self, path: str, body: dict[str, Any], what: str) -> dict[str, Any]:
        """POST to the in-process server's own listener, through the one HTTP client
        thinktree uses (:class:`~thinktree.engines.openai.transport.Transport`)."""
        try:
            answer = self._transport.request("POST", path, body)
            if not answer.ok:
                raise EngineError(f"HTTP {answer.status}: {answer.message}")
            return answer.json_object()
        except EngineError as exc:
            raise EngineError(f"llama.cpp could not {what}: {exc}") from exc

    def render_chat(self, messages: Sequence[dict[str, str]]) -> str:
        body = {"messages": list(messages), "add_generation_prompt": True}
        answer = self._post("/apply-template", body, "render the chat template")
        if not isinstance(answer.get("prompt"), str):
            raise EngineError("llama.cpp could not render the chat template: no prompt returned")
        return answer["prompt"]

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` in this model's vocabulary (special tokens parsed, no BOS)."""
        answer = self._post("/tokenize", {"content": text, "parse_special": True}, "tokenize")
        try:
            return [int(t) for t in answer["tokens"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise EngineError(f"llama.cpp could not tokenize: {exc!r}") from exc

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in this model's vocabulary (special tokens parsed)."""
        return len(self.tokenize(text))

    # -- token-level probes -----------------------------------------------------------------

    def greedy_next_token(self, token_ids: Sequence[int], lora_scale: float | None = None) -> int:
        """The id of the most likely token after the prompt ``token_ids``.

        The prompt is given as ids, so no tokenisation happens; with the prefix cache
        a prompt that extends the previous one by a token costs one token.
        ``lora_scale`` sets the scale of every loaded adapter for this request
        (0 = the base model); None keeps the scales the engine was started with.
        Another scale than those needs an engine with ``cache_ram_mib=0`` (see the
        module docstring); alternate scales per text, not per token, as each change
        empties the slot's cache.
        """
        if not token_ids:
            raise EngineError("greedy_next_token needs at least one prompt token")
        payload: dict[str, Any] = {
            "prompt": [int(t) for t in token_ids],
            "max_tokens": 1,
            "temperature": 0.0,
            "n_probs": 1,
            "cache_prompt": True,
        }
        if self.options.lora:
            overridden = any(lora_scale not in (None, scale) for _, scale in self.options.lora)
            if overridden and self.options.cache_ram_mib:
                raise EngineError(
                    "a per-request LoRA scale needs LlamaCppOptions(cache_ram_mib=0): "
                    "llama.cpp's RAM prompt cache ignores LoRA scales"
                )
            payload["lora"] = self._lora_scales(lora_scale)
        elif lora_scale:
            raise EngineError("lora_scale needs an engine started with a LoRA adapter")
        try:
            response = self._server.handle_completions(payload)
        except Exception as exc:
            raise EngineError(f"llama.cpp failed: {exc}") from exc
        try:
            return int(response["choices"][0]["logprobs"]["content"][0]["id"])
        except (KeyError, IndexError, TypeError) as exc:
            error = response.get("error", response)
            message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
            raise EngineError(f"llama.cpp: {message}") from exc

    def next_token_logprobs(
        self,
        prompts: Sequence[str],
        top: int,
        pick: int,
        chains: Sequence[Hashable] | None = None,
    ) -> list[NextTokenLogprobs]:
        """The ``top`` most likely next tokens after each prompt, with log-probabilities.

        One request per prompt (``max_tokens`` 1, ``n_probs`` = ``top``); results in
        prompt order. ``cache_prompt`` lets a prompt that extends one a slot holds
        evaluate only its new tokens. Prompts with the same ``chains`` label (say, the
        siblings of one parent) are sent one after another from one thread, so each
        finds the shared prefix in the slot the previous one used; chains run
        concurrently, one thread per slot. Without labels every prompt is its own
        chain. (Concurrent requests land on different slots, and llama.cpp copies no
        prefix between slots: three siblings sent at once on three slots evaluated
        their parent's prefix up to three times, measured.) Adapters run at the scales
        the engine was started with. A prompt too long for a slot comes back with
        ``error`` set; other failures raise :class:`EngineError`.

        ``pick`` is the token generated (a ``logit_bias`` forces it; the probabilities
        reported are the model's own, computed before any sampler): llama.cpp returns
        no probabilities for a token that ends inside a UTF-8 character, which the most
        likely token may be, so ``pick`` must be a whole character or more.
        """
        if top < 1:
            raise EngineError("next_token_logprobs needs top >= 1")
        labels: Sequence[Hashable] = range(len(prompts)) if chains is None else chains
        if len(labels) != len(prompts):
            raise EngineError("next_token_logprobs needs one chain label per prompt")
        groups: dict[Hashable, list[int]] = {}
        for index, label in enumerate(labels):
            groups.setdefault(label, []).append(index)

        def run(indexes: list[int]) -> list[NextTokenLogprobs]:
            return [self._next_token_one(prompts[i], top, pick) for i in indexes]

        if len(groups) <= 1:
            answers = [run(indexes) for indexes in groups.values()]
        else:
            futures = [self._pool.submit(run, indexes) for indexes in groups.values()]
            answers = [f.result() for f in futures]
        out: list[NextTokenLogprobs | None] = [None] * len(prompts)
        for indexes, chain in zip(groups.values(), answers, strict=True):
            for index, answer in zip(indexes, chain, strict=True):
                out[index] = answer
        return [answer for answer in out if answer is not None]

    def _next_token_one(self, prompt: str, top: int, pick: int) -> NextTokenLogprobs:
        payload: dict[str, Any] = {
            "prompt": prompt,
            "max_tokens": 1,
            "temperature": 0.0,
            "n_probs": top,
            "logit_bias": [[int(pick), 1000.0]],
            "cache_prompt": True,
        }
        response, seconds, refused = self._send(payload)
        if refused is not None:
            return NextTokenLogprobs({}, seconds=seconds, error=refused)
        try:
            content = response["choices"][0]["logprobs"]["content"][0]
            ranked = {int(alt["id"]): float(alt["logprob"]) for alt in content["top_logprobs"]}
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise EngineError(f"llama.cpp returned no log-probabilities ({exc!r})") from exc
        timings = response.get("timings", {})
        prompt_n, cache_n = int(timings.get("prompt_n", 0)), int(timings.get("cache_n", 0))
        with self._lock:
            self.stats.requests += 1
            self.stats.generated_tokens += 1
            self.stats.prompt_tokens += prompt_n
            self.stats.cached_tokens += cache_n
            self.stats.prompt_seconds += float(timings.get("prompt_ms", 0.0)) / 1000
            self.stats.generation_seconds += float(timings.get("predicted_ms", 0.0)) / 1000
        return NextTokenLogprobs(ranked, prompt_n, cache_n, seconds)

    def _lora_scales(self, scale: float | None) -> list[dict[str, Any]]:
        """llama.cpp's per-request ``lora`` field: ``scale`` for every adapter, or the defaults."""
        return [
            {"id": i, "scale": float(default if scale is None else scale)}
            for i, (_, default) in enumerate(self.options.lora)
        ]

    @property
    def base_url(self) -> str:
        """The server's own OpenAI-compatible HTTP endpoint (127.0.0.1 only)."""
        return self._http

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._transport.close()
        server = self.__dict__.pop("_server", None)
        del server

    def __enter__(self) -> LlamaCppEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def error_is_request_local(message: str) -> bool:
    """Errors caused by one request's content, which must not fail its batch."""
    lowered = message.lower()
    return "context size" in lowered or "too long" in lowered or "exceeds" in lowered
