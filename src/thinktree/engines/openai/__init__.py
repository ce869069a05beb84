"""The ``openai`` engine: any OpenAI-compatible completions server.

``--engine openai --base-url URL --model NAME`` drives a server that speaks
``POST /v1/completions`` — llama.cpp's ``llama-server``, vLLM, SGLang — with the
semantics of the in-process ``llamacpp`` engine: one call per request, ``n``
completions of one prompt with the prompt evaluated once, log-probabilities as
top-k alternatives, a too-long prompt failing its request alone.

What was tested, and how:
- live, against llama.cpp's server (the HTTP endpoint of the in-process xllamacpp
  2026.10.11549 server, on 127.0.0.1, with Qwen2.5-Coder-0.5B-Instruct): greedy output
  and log-probabilities identical to the ``llamacpp`` engine's for the same prompt-cache
  state (a prompt evaluated from scratch and one found in the cache can differ in the
  last bits, enough to flip a near-tie greedy token), ``n`` completions with
  per-choice token counts, stop strings, the same seed giving the same text, cached
  prompt tokens, a batch in which one prompt is too long, and chat templates
  (``/apply-template``, and a Jinja file rendered here agreeing with it);
- from recorded answers only, since no vLLM or SGLang server runs on this CPU machine:
  vLLM and SGLang ``/v1/completions`` answers (``n`` > 1 with log-probabilities,
  cached-token reports, context-length errors) and vLLM's ``/tokenize`` +
  ``/detokenize`` chat rendering, each transcribed from the servers' source (see the
  ``_source`` field of ``tests/engines/fixtures/*.json``) and served by a local test
  server. Sampling parity (``top_k``/``min_p`` off, seeds) on vLLM and SGLang is
  therefore claimed from their documented parameters, not measured;
- failures against real local sockets: a closed port, HTTP 500 then 200, 429 then
  200, 500 until the retries run out, 404, 400, a malformed body, a server slower
  than the timeout.

See :mod:`.responses` for what each server reports (token counts, cached tokens,
log-probability shapes) and the conventions taken, :mod:`.transport` for retries and
errors, :mod:`.chat` for chat templates.
"""

from thinktree.engines.openai.engine import OpenAIEngine
from thinktree.engines.openai.transport import normalize_base_url

__all__ = ["OpenAIEngine", "normalize_base_url"]
