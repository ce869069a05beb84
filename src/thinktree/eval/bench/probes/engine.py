"""Engine benchmark (issue 2): raw xllamacpp vs thinktree's engine, slots, prompts, solve.

Run with nothing else on the machine:

    thinktree bench benchmarks/recipes/engine.yaml [--set model=default --set tokens=128]

Writes benchmarks/results/engine.json. Each figure is measured side by side in
this one process (the end-to-end solve in a fresh subprocess, model load
included).
"""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from thinktree.eval.bench.probes.base import Probe, ProbeContext, ProbeOptions
from thinktree.eval.bench.probes.results import write_results

if TYPE_CHECKING:
    import xllamacpp

    from thinktree.engines.llamacpp import LlamaCppEngine

SAMPLE = ("A shop sells pens at 3 dollars each. Ana buys 4 pens and pays with a 20-dollar bill. "
          "How much change does she get?")  # fmt: skip
TOPICS = ["the sea", "a mountain village", "a robot learning to paint", "the history of tea",
          "a lighthouse keeper", "a city under snow", "an old library", "a desert caravan"]  # fmt: skip


class EngineOptions(ProbeOptions):
    model: str = "default"
    """Embedded model name or alias, or a .gguf path."""
    tokens: int = Field(128, ge=1)
    """Generated tokens per request."""
    repeats: int = Field(3, ge=1)
    """Prompts timed per single-slot figure (and prompt-processing repeats)."""
    out: str = "benchmarks/results/engine.json"
    """The results file (relative to the repository)."""


def story(topic: str) -> str:
    return f"<|im_start|>user\nWrite a long, detailed story about {topic}.<|im_end|>\n<|im_start|>assistant\n"


def raw_server(
    path: Path, slots: int, ctx_per_slot: int = 4096, cache_ram_mib: int = 1024,
    adapter: Path | None = None,
) -> xllamacpp.Server:  # fmt: skip
    """A bare xllamacpp server on 2 threads (``adapter``: a GGUF LoRA at scale 1)."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_parallel = slots
    params.n_ctx = ctx_per_slot * slots
    params.cpuparams.n_threads = 2
    params.cpuparams_batch.n_threads = 2
    params.n_batch = 512
    params.cache_ram_mib = cache_ram_mib
    params.verbosity = -1
    if adapter is not None:
        params.lora_adapters = [xllamacpp.CommonAdapterLoraInfo(str(adapter), 1.0)]
    return xllamacpp.Server(params)


def raw_generate(server: xllamacpp.Server, prompt: str, tokens: int) -> tuple[int, float]:
    from thinktree.engines.base import CompletionRequest
    from thinktree.engines.llamacpp import completion_payload

    body = completion_payload(CompletionRequest(prompt, max_tokens=tokens))
    body["ignore_eos"] = True
    started = time.perf_counter()
    response = server.handle_completions(body)
    return int(response["usage"]["completion_tokens"]), time.perf_counter() - started


def engine_generate(engine: LlamaCppEngine, prompts: list[str], tokens: int) -> tuple[int, float]:
    from thinktree.engines.base import CompletionRequest

    requests = [CompletionRequest(p, max_tokens=tokens) for p in prompts]
    started = time.perf_counter()
    results = engine.complete(requests)
    return sum(c.generated_tokens for r in results for c in r), time.perf_counter() - started


def run(options: EngineOptions, ctx: ProbeContext) -> Path:
    from thinktree.engines.llamacpp import LlamaCppEngine, LlamaCppOptions
    from thinktree.models import resolve_model

    model = resolve_model(options.model)
    out: dict[str, object] = {"model": model.name, "tokens_per_request": options.tokens,
                              "machine": f"{platform.machine()}, 2 cores",
                              "command": ctx.command}  # fmt: skip

    # 1. Raw xllamacpp vs thinktree's engine, one slot, the same prompts, eos ignored on
    # the raw side; the thinktree side uses a prompt whose greedy output is long.
    raw = raw_server(model.path, 1)
    raw_times, raw_tokens = [], []
    for topic in TOPICS[: options.repeats]:
        n, s = raw_generate(raw, story(topic), options.tokens)
        raw_tokens.append(n)
        raw_times.append(s)
    del raw
    engine = LlamaCppEngine(model.path, LlamaCppOptions(n_parallel=1, ctx_per_slot=4096,
                                                       threads=2))  # fmt: skip
    ours_times, ours_tokens = [], []
    for topic in TOPICS[: options.repeats]:
        n, s = engine_generate(engine, [story(topic)], options.tokens)
        ours_tokens.append(n)
        ours_times.append(s)
    engine.close()
    raw_tok_s = sum(raw_tokens) / sum(raw_times)
    ours_tok_s = sum(ours_tokens) / sum(ours_times)
    out.update(raw_tok_s=raw_tok_s, thinktree_tok_s=ours_tok_s,
               raw_tokens=raw_tokens, thinktree_tokens=ours_tokens,
               overhead_ratio=(sum(ours_times) / sum(ours_tokens)) / (sum(raw_times) / sum(raw_tokens)))  # fmt: skip

    # 2. Four distinct prompts of fixed generated length: 4 slots at once vs one by one.
    engine = LlamaCppEngine(model.path, LlamaCppOptions(n_parallel=4, ctx_per_slot=2048, threads=2))
    prompts = [story(t) for t in TOPICS[4:8]]
    engine_generate(engine, [story("warm up")], 8)
    batch_tokens, batch_seconds = engine_generate(engine, prompts, options.tokens)
    seq_tokens, seq_seconds = 0, 0.0
    for prompt in prompts:
        n, s = engine_generate(engine, [prompt + " "], options.tokens)  # new prompt: no cache hit
        seq_tokens += n
        seq_seconds += s
    out.update(batch4_tok_s=batch_tokens / batch_seconds, sequential4_tok_s=seq_tokens / seq_seconds,
               batch4_speedup=(batch_tokens / batch_seconds) / (seq_tokens / seq_seconds),
               batch4_tokens=batch_tokens, sequential4_tokens=seq_tokens)  # fmt: skip

    engine.close()

    # 3. Prompt processing at 512 and 1024 tokens (fresh text, cache off), one slot.
    raw = raw_server(model.path, 1)
    for size in (512, 1024):
        rates = []
        for repeat in range(options.repeats):
            text = f"Note {repeat} of {size}:" + " apple" * (size - 8)
            response = raw.handle_completions({"prompt": text, "max_tokens": 1,
                                               "cache_prompt": False})  # fmt: skip
            timings = response["timings"]
            rates.append(timings["prompt_n"] / (timings["prompt_ms"] / 1000))
        out[f"prompt_tok_s_{size}"] = statistics.median(rates)
    del raw

    # 4. `thinktree solve` on the sample problem, end to end in a fresh process.
    started = time.perf_counter()
    solved = subprocess.run([sys.executable, "-m", "thinktree", "solve", SAMPLE, "--json"],
                            capture_output=True, text=True, check=True, cwd=ctx.root)  # fmt: skip
    out["solve_seconds"] = time.perf_counter() - started
    out["solve_answer"] = json.loads(solved.stdout)["answer"]

    path = write_results(ctx.path(options.out), out)
    ctx.say(json.dumps(out, indent=2))
    return path


PROBE = Probe(EngineOptions, "llama.cpp engine speed against raw xllamacpp", run)
