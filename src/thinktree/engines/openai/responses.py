"""``/v1/completions`` bodies and answers, as pure functions.

What each server puts in an answer (llama.cpp checked live against xllamacpp
2026.10.11549; vLLM and SGLang read from their source, see the fixtures' ``_source``):

- llama.cpp server: ``usage`` (``completion_tokens``, ``prompt_tokens``) describes the
  first completion only; ``timings.prompt_n`` is the prompt tokens evaluated and
  ``timings.cache_n`` those reused (also in ``usage.prompt_tokens_details``).
  ``logprobs`` comes in the chat shape, ``{"content": [{token, logprob, bytes,
  top_logprobs: [{token, logprob}]}]}`` with exactly the top-k; tokens of a matched
  stop string are counted in ``usage`` but have no entry in ``logprobs``.
- vLLM: ``usage.completion_tokens`` is the sum over the ``n`` choices and
  ``usage.prompt_tokens`` the prompt, once. ``prompt_tokens_details.cached_tokens``
  only with ``--enable-prompt-tokens-details`` and only when not 0 (a multiple of the
  cache block size). ``logprobs`` in the OpenAI completions shape, ``{tokens,
  token_logprobs, top_logprobs: [{token: logprob}], text_offset}``, whose dicts hold the
  sampled token plus the top-k; stop-string tokens have entries.
- SGLang: ``usage`` as vLLM; ``prompt_tokens_details.cached_tokens`` only with
  ``--enable-cache-report``, only when not 0, and summed over the ``n`` choices.
  ``logprobs`` as vLLM with every ``text_offset`` -1 and the dicts holding the top-k.

Hence the conventions here:
- Generated tokens per choice: ``usage.completion_tokens`` when ``n == 1``; otherwise the
  length of the choice's log-probabilities, which is why a request with ``n > 1`` always
  asks for at least one log-probability (as ``llamacpp.py`` does). On llama.cpp that
  count leaves out the tokens of a matched stop string. A server that ignores
  ``logprobs`` gets ``usage.completion_tokens`` split over its choices: a choice cut
  at ``max_tokens`` took ``max_tokens``, the rest is shared by text length.
- Prompt tokens follow ``base.Completion``: the first choice carries the evaluated and
  cached counts, the others report 0 evaluated and the whole prompt as cached. When
  the server does not report its cache, everything counts as evaluated. SGLang's
  cached count for ``n > 1`` is a sum over choices that each find the prompt cached
  (it pre-fills the prompt in a request it does not report); we take the mean per
  choice, so its evaluated count is a lower bound there.
- Log-probabilities: ``top`` holds at most ``request.logprobs`` alternatives, most
  likely first, whatever the server's shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from thinktree.engines.base import Completion, CompletionRequest, EngineError, TokenLogprob

_SEED_MASK = 0xFFFFFFFF


def completion_body(
    request: CompletionRequest, model: str, extra_body: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON body of one ``/v1/completions`` call.

    ``top_k: -1`` and ``min_p: 0`` switch off llama.cpp's own sampling defaults
    (``top_k=40``, ``min_p=0.05``) so that the three servers sample alike with OpenAI
    semantics; vLLM and SGLang read -1 as "off" too. ``extra_body`` entries override
    ours, and an entry set to None removes the field (for a strict server that rejects
    unknown fields).
    """
    body: dict[str, Any] = {
        "model": model,
        "prompt": request.prompt,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "top_k": -1,
        "min_p": 0.0,
        "n": request.n,
        # Same 32-bit seed as the in-process llama.cpp engine, so both sample alike.
        "seed": request.seed & _SEED_MASK,
    }
    if request.stop:
        body["stop"] = list(request.stop)
    top_k = logprobs_to_ask(request)
    if top_k:
        body["logprobs"] = top_k
    for key, value in (extra_body or {}).items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def logprobs_to_ask(request: CompletionRequest) -> int:
    """Top-k to request: the caller's, and at least 1 when ``n > 1`` (token counts)."""
    return max(request.logprobs, 1) if request.n > 1 else request.logprobs


def parse_logprobs(raw: Any, top_k: int) -> list[TokenLogprob] | None:
    """Either server shape to :class:`TokenLogprob` (None when the choice has none)."""
    if not isinstance(raw, dict):
        return None
    if isinstance(raw.get("content"), list):  # llama.cpp (the chat-completions shape)
        return [
            TokenLogprob(
                token=str(item.get("token", "")),
                logprob=float(item.get("logprob", 0.0)),
                top=_best(
                    ((alt.get("token", ""), alt.get("logprob")) for alt in _alternatives(item)),
                    top_k,
                ),
            )
            for item in raw["content"]
        ]
    if isinstance(raw.get("tokens"), list):  # OpenAI completions: vLLM, SGLang
        tokens = raw["tokens"]
        values = raw.get("token_logprobs") or [None] * len(tokens)
        tops = raw.get("top_logprobs") or [None] * len(tokens)
        return [
            TokenLogprob(
                token=str(token),
                # None only for a token without log-probability (an echoed first prompt
                # token), which we never ask for.
                logprob=float(value) if value is not None else 0.0,
                top=_best((top or {}).items(), top_k),
            )
            for token, value, top in zip(tokens, values, tops, strict=False)
        ]
    return None


def _alternatives(item: dict[str, Any]) -> list[dict[str, Any]]:
    return [alt for alt in item.get("top_logprobs") or () if isinstance(alt, dict)]


def _best(pairs: Any, top_k: int) -> tuple[tuple[str, float], ...]:
    """The ``top_k`` most likely (token, logprob) pairs, most likely first."""
    clean = [(str(token), float(value)) for token, value in pairs if value is not None]
    clean.sort(key=lambda pair: pair[1], reverse=True)
    return tuple(clean[:top_k])


@dataclass(frozen=True)
class PromptAccount:
    """How one answer's prompt was paid for."""

    evaluated: int
    cached: int
    prompt_seconds: float = 0.0
    generation_seconds: float = 0.0


def prompt_account(response: Mapping[str, Any], n: int) -> PromptAccount:
    """Evaluated and cached prompt tokens of the first completion (see the module notes)."""
    usage = response.get("usage") or {}
    timings = response.get("timings") or {}
    prompt_seconds = float(timings.get("prompt_ms", 0.0)) / 1000
    generation_seconds = float(timings.get("predicted_ms", 0.0)) / 1000
    if "prompt_n" in timings:  # llama.cpp says exactly what it evaluated
        return PromptAccount(
            int(timings["prompt_n"]),
            int(timings.get("cache_n", 0)),
            prompt_seconds,
            generation_seconds,
        )
    prompt = int(usage.get("prompt_tokens") or 0)
    details = usage.get("prompt_tokens_details") or {}
    cached = int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0
    if cached > prompt and n > 1:  # SGLang: a sum over the n choices
        cached //= n
    cached = min(cached, prompt)
    return PromptAccount(prompt - cached, cached, prompt_seconds, generation_seconds)


def split_completion_tokens(
    total: int, choices: list[dict[str, Any]], max_tokens: int
) -> list[int]:
    """Share ``usage.completion_tokens`` over choices that report no token count."""
    counts = [max_tokens if c.get("finish_reason") == "length" else -1 for c in choices]
    open_ = [i for i, count in enumerate(counts) if count < 0]
    rest = max(0, total - sum(c for c in counts if c >= 0))
    weights = [len(choices[i].get("text") or "") for i in open_]
    weight_sum = sum(weights)
    for position, i in enumerate(open_):
        if position == len(open_) - 1:
            counts[i] = rest
        else:
            share = rest * weights[position] // weight_sum if weight_sum else rest // len(open_)
            counts[i] = share
            rest -= share
    return counts


def completions_from_response(
    request: CompletionRequest, response: Mapping[str, Any], seconds: float, url: str
) -> tuple[list[Completion], PromptAccount]:
    """A successful answer as ``request.n`` completions, plus its prompt account."""
    raw_choices = response.get("choices")
    if not isinstance(raw_choices, list) or not all(isinstance(c, dict) for c in raw_choices):
        raise EngineError(f"{url} returned no 'choices' list; is it a /v1/completions endpoint?")
    if len(raw_choices) != request.n:
        raise EngineError(
            f"{url} returned {len(raw_choices)} choices for n={request.n};"
            " the server does not support n (several completions of one prompt)"
        )
    choices = sorted(raw_choices, key=lambda c: int(c.get("index", 0)))
    top_k = logprobs_to_ask(request)
    logprobs = [parse_logprobs(c.get("logprobs"), top_k) for c in choices]
    usage = response.get("usage") or {}
    if request.n == 1 and usage.get("completion_tokens") is not None:
        generated = [int(usage["completion_tokens"])]
    elif all(lp is not None for lp in logprobs):
        generated = [len(lp or ()) for lp in logprobs]
    else:
        total = int(usage.get("completion_tokens") or 0)
        generated = split_completion_tokens(total, choices, request.max_tokens)
    account = prompt_account(response, request.n)
    completions = [
        Completion(
            text=str(choice.get("text") or ""),
            finish_reason=str(choice.get("finish_reason") or "stop"),
            generated_tokens=generated[i],
            prompt_tokens=account.evaluated if i == 0 else 0,
            cached_tokens=account.cached if i == 0 else account.evaluated + account.cached,
            logprobs=logprobs[i] if request.logprobs else None,
            seconds=seconds,
            prompt_seconds=account.prompt_seconds if i == 0 else 0.0,
        )
        for i, choice in enumerate(choices)
    ]
    return completions, account


_CONTEXT_PHRASES = (
    "context length",  # vLLM "maximum context length is", SGLang "model's context length"
    "context size",  # llama.cpp "exceeds the available context size"
    "context window",
    "maximum model length",  # older vLLM "longer than the maximum model length"
    "too long",
)


def is_context_error(status: int, payload: Any, message: str) -> bool:
    """A 4xx caused by one request's length, which must not fail its batch."""
    if status not in (400, 413, 422):
        return False
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and error.get("type") == "exceed_context_size_error":
        return True
    lowered = message.lower()
    return any(phrase in lowered for phrase in _CONTEXT_PHRASES)
