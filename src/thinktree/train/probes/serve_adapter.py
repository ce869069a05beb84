"""Serving an evolved policy: base file + GGUF adapter against one merged Q8_0 file (issue 17).

Run with nothing else on the machine:

    thinktree bench benchmarks/recipes/serve_adapter.yaml [--set policy=DIR] [--set problems=8]

``policy`` is an evolve round directory (``policy.json``); the default is the
embedded ``evolved``. The adapter is merged into its base file
(:mod:`thinktree.train.export.merge_gguf`, adapted projections at Q8_0) under
``runs/serve-adapter/``, then three servings are measured one after the other in
this process, on the same zero-shot step prompts of gsm8k test problems:

- speed: generation at one slot (llama.cpp's own timings, prompt excluded),
  prompt processing of the same prompts, and four requests at once (the eval's
  default slots; generated tokens per wall second, prompts included); every
  request exactly ``tokens`` tokens (end of text ignored);
- agreement: at every position of the adapter serving's greedy solutions
  (teacher-forced), whether the merged file and the base file alone pick the
  same next token.

Writes benchmarks/results/serve_adapter.json.
"""

from __future__ import annotations

import json
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from thinktree.eval.bench.probes.base import Probe, ProbeContext, ProbeError, ProbeOptions
from thinktree.eval.bench.probes.results import write_results

if TYPE_CHECKING:
    import xllamacpp

    from thinktree.engines.llamacpp import LlamaCppEngine

MERGED_DIR = "runs/serve-adapter"
"""Where the merged file is written (once per adapter; relative to the repository)."""


class ServeAdapterOptions(ProbeOptions):
    policy: str | None = None
    """An evolve round directory (policy.json); default: the embedded evolved policy."""
    problems: int = Field(8, ge=1)
    """Zero-shot gsm8k test prompts (the first N)."""
    tokens: int = Field(128, ge=1)
    """Generated tokens per request (end of text ignored)."""
    out: str = "benchmarks/results/serve_adapter.json"
    """The results file (relative to the repository)."""


def timed(server: xllamacpp.Server, prompt: str, tokens: int, lora: bool) -> dict[str, float]:
    from thinktree.engines.base import CompletionRequest
    from thinktree.engines.llamacpp import completion_payload

    body = completion_payload(CompletionRequest(prompt, max_tokens=tokens))
    body.update(ignore_eos=True, cache_prompt=False)
    if lora:
        body["lora"] = [{"id": 0, "scale": 1.0}]
    response = server.handle_completions(body)
    return response["timings"]


def speed(path: Path, adapter: Path | None, prompts: list[str], tokens: int) -> dict[str, float]:
    """Generated tokens/s at 1 and 4 slots, and prompt tokens/s, for one serving."""
    from thinktree.eval.bench.probes.engine import raw_server

    lora = adapter is not None
    server = raw_server(path, 4, ctx_per_slot=2048, cache_ram_mib=0, adapter=adapter)
    timed(server, prompts[0], 8, lora)  # warm-up
    single = [timed(server, p, tokens, lora) for p in prompts]
    started = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        batch = list(pool.map(lambda p: timed(server, p, tokens, lora), prompts))
    batch_seconds = time.perf_counter() - started
    generated = sum(t["predicted_n"] for t in single)
    return {
        "decode_tok_s": generated / sum(t["predicted_ms"] / 1000 for t in single),
        "prompt_tok_s": sum(t["prompt_n"] for t in single)
        / sum(t["prompt_ms"] / 1000 for t in single),
        "batch4_tok_s": sum(t["predicted_n"] for t in batch) / batch_seconds,
    }


def greedy_solutions(engine: LlamaCppEngine, prompts: list[str], tokens: int) -> list[str]:
    from thinktree.engines.base import CompletionRequest

    requests = [CompletionRequest(p, max_tokens=tokens, temperature=0.0) for p in prompts]
    return [result[0].text for result in engine.complete(requests)]


def agreement(engine: LlamaCppEngine, texts: list[list[int]], starts: list[int]) -> float:
    """Fraction of teacher-forced positions where ``engine`` picks the text's next token."""
    hits = total = 0
    for ids, start in zip(texts, starts, strict=True):
        for position in range(start, len(ids)):
            hits += engine.greedy_next_token(ids[:position]) == ids[position]
            total += 1
    return hits / total


def run(options: ServeAdapterOptions, ctx: ProbeContext) -> Path:
    from thinktree.engines.llamacpp import LlamaCppEngine, LlamaCppOptions
    from thinktree.models.policy import embedded_policy_dir, read_policy
    from thinktree.models.resolve import resolve_policy
    from thinktree.problems.loaders import load_benchmark
    from thinktree.steps.prompt import PromptStyle, build_step_prompt
    from thinktree.train.export.merge_gguf import merge_lora_gguf

    root = ctx.root.resolve()
    policy_dir = embedded_policy_dir() if options.policy is None else root / options.policy
    policy = read_policy(policy_dir)
    base = resolve_policy(policy)
    adapter = policy.adapter
    if adapter is None or policy.adapter_sha256 is None:
        raise ProbeError(
            f"{policy_dir} names no adapter: nothing to merge; set policy to a round with one"
        )
    merged_path = ctx.path(MERGED_DIR) / f"{policy.adapter_sha256[:16]}-q8_0.gguf"
    started = time.perf_counter()
    if not merged_path.is_file():
        merge_lora_gguf(base.path, adapter, merged_path)
    merge_seconds = time.perf_counter() - started

    llama = LlamaCppOptions(n_parallel=1, ctx_per_slot=4096, threads=2, cache_ram_mib=0)
    served = LlamaCppEngine(base.path, replace(llama, lora=((str(adapter), 1.0),)))
    problems = load_benchmark("gsm8k", "test")[: options.problems]
    prompts = [
        build_step_prompt(p.question, served.render_chat, PromptStyle.ZERO_SHOT).header
        for p in problems
    ]
    solutions = greedy_solutions(served, prompts, 192)
    texts = [
        served.tokenize(p) + served.tokenize(s) for p, s in zip(prompts, solutions, strict=True)
    ]
    starts = [len(served.tokenize(p)) for p in prompts]
    adapter_self = agreement(served, texts, starts)
    served.close()
    figures: dict[str, Any] = {}
    for name, gguf in (("merged_q8_0", merged_path), ("base", base.path)):
        engine = LlamaCppEngine(gguf, llama)
        figures[f"{name}_agree"] = agreement(engine, texts, starts)
        engine.close()

    servings = {
        "base": speed(base.path, None, prompts, options.tokens),
        "adapter": speed(base.path, adapter, prompts, options.tokens),
        "merged_q8_0": speed(merged_path, None, prompts, options.tokens),
    }
    out = {
        "command": ctx.command,
        "machine": f"{platform.machine()}, 2 cores",
        "policy": str(
            policy_dir.relative_to(root) if policy_dir.is_relative_to(root) else policy_dir
        ),
        "adapter_sha256": policy.adapter_sha256,
        "problems": len(problems),
        "tokens_per_request": options.tokens,
        "file_mb": {
            "base": round(base.path.stat().st_size / 1e6, 1),
            "adapter": round(adapter.stat().st_size / 1e6, 1),
            "merged_q8_0": round(merged_path.stat().st_size / 1e6, 1),
        },
        "merge_seconds": round(merge_seconds, 1),
        "positions": sum(len(t) - s for t, s in zip(texts, starts, strict=True)),
        "adapter_self_agree": adapter_self,
        **figures,
        "servings": servings,
        "merged_over_adapter": {
            key: servings["merged_q8_0"][key] / servings["adapter"][key]
            for key in servings["adapter"]
        },
    }
    path = write_results(ctx.path(options.out), out)
    ctx.say(json.dumps(out, indent=2))
    return path


PROBE = Probe(ServeAdapterOptions, "base + GGUF adapter against one merged Q8_0 file", run)
