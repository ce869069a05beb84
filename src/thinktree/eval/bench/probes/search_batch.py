"""MCTS throughput with lock-step batching across problems vs one problem at a time.

Run with nothing else on the machine:

    thinktree bench benchmarks/recipes/search_batch.yaml [--set model=fast --set problems=8]

Same problems, same search config (MCTS, 2 rollouts, k = 3), four engine
layouts measured one after the other in this process:
- unbatched: one problem at a time, 1 slot (the k siblings one after another);
- sequential: one problem at a time, 3 slots (the k siblings of one expansion);
- batched-4: 4 problems per round, 4 slots (12 sibling tasks queue on 4 slots);
- batched-12: 4 problems per round, 12 slots (every sibling task has a slot).
Reports generated tokens per wall second for each, the speedup of the best batched
layout over the unbatched one, and (unbatched layout, where no two requests
overlap) the share of engine wall time spent evaluating prompts. Writes benchmarks/results/search_batch.json.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pydantic import Field

from thinktree.eval.bench.probes.base import Probe, ProbeContext, ProbeOptions
from thinktree.eval.bench.probes.results import write_results


class SearchBatchOptions(ProbeOptions):
    model: str = "fast"
    """Embedded model name or alias, or a .gguf path."""
    problems: int = Field(9, ge=2)
    """gsm8k test problems from test/100: the first warms up, the rest are timed."""
    out: str = "benchmarks/results/search_batch.json"
    """The results file (relative to the repository)."""


def measure(model: str, problems: list[Any], parallel: int, window: int) -> dict[str, float]:
    from thinktree.api import open_runtime
    from thinktree.engines.factory import EngineConfig
    from thinktree.search import SearchConfig, run_search
    from thinktree.search.mcts.search import MCTSSearch
    from thinktree.search.registry import strategy_name

    config = SearchConfig(strategy=strategy_name(MCTSSearch), samples=2, k=3, seed=1)
    with open_runtime(EngineConfig(model=model, parallel=parallel, threads=2)) as runtime:
        ctx = runtime.context(config)
        run_search(problems[:1], ctx, window=1)  # warm: header in cache, sandbox started
        started = time.perf_counter()
        results = run_search(problems[1:], ctx, window=window)
        wall = time.perf_counter() - started
    tokens = sum(r.usage.generated_tokens for r in results)
    prompt = sum(r.usage.prompt_seconds for r in results)
    engine = sum(r.usage.engine_seconds for r in results)
    return {"parallel": parallel, "window": window, "problems": len(results),
            "generated_tokens": tokens, "wall_seconds": wall, "tok_s": tokens / wall,
            "engine_seconds": engine, "prompt_seconds": prompt,
            "prompt_share_of_engine_time": prompt / engine if engine else 0.0}  # fmt: skip


def run(options: SearchBatchOptions, ctx: ProbeContext) -> Path:
    from thinktree.problems import load_benchmark

    problems = load_benchmark("gsm8k", split="test")[100 : 100 + options.problems]
    layouts = {
        "unbatched": measure(options.model, problems, parallel=1, window=1),
        "sequential": measure(options.model, problems, parallel=3, window=1),
        "batched-4": measure(options.model, problems, parallel=4, window=4),
        "batched-12": measure(options.model, problems, parallel=12, window=4),
    }
    best = max(layouts[k]["tok_s"] for k in ("sequential", "batched-4", "batched-12"))
    out: dict = {}
    out["batch_speedup"] = best / layouts["unbatched"]["tok_s"]
    out["batching"] = {"model": options.model, "command": ctx.command,
                       "prompt_share_unbatched": layouts["unbatched"]["prompt_share_of_engine_time"],
                       **layouts}  # fmt: skip
    path = write_results(ctx.path(options.out), out)
    ctx.say(json.dumps(out["batching"], indent=2) + f"\nbatch_speedup {out['batch_speedup']}")
    return path


PROBE = Probe(SearchBatchOptions, "MCTS tokens/s batched across problems or not", run)
