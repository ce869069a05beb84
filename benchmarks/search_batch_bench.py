"""MCTS throughput with lock-step batching across problems vs one problem at a time.

Run with nothing else on the machine:

    .venv/bin/python benchmarks/search_batch_bench.py [--model fast] [--problems 8]

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

import argparse
import json
import time
from pathlib import Path

from thinktree.api import open_runtime
from thinktree.engines.factory import EngineConfig
from thinktree.problems import load_benchmark
from thinktree.search import SearchConfig, run_search

ROOT = Path(__file__).resolve().parents[1]


def measure(model: str, problems: list, parallel: int, window: int) -> dict[str, float]:
    config = SearchConfig(strategy="mcts", samples=2, k=3, seed=1)
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="fast")
    parser.add_argument("--problems", type=int, default=9)
    args = parser.parse_args()
    problems = load_benchmark("gsm8k", split="test")[100 : 100 + args.problems]
    layouts = {
        "unbatched": measure(args.model, problems, parallel=1, window=1),
        "sequential": measure(args.model, problems, parallel=3, window=1),
        "batched-4": measure(args.model, problems, parallel=4, window=4),
        "batched-12": measure(args.model, problems, parallel=12, window=4),
    }
    best = max(layouts[k]["tok_s"] for k in ("sequential", "batched-4", "batched-12"))
    out_path = ROOT / "benchmarks" / "results" / "search_batch.json"
    out: dict = {}
    out["batch_speedup"] = best / layouts["unbatched"]["tok_s"]
    command = (
        f"python benchmarks/search_batch_bench.py --model {args.model} --problems {args.problems}"
    )
    out["batching"] = {"model": args.model, "command": command,
                       "prompt_share_unbatched": layouts["unbatched"]["prompt_share_of_engine_time"],
                       **layouts}  # fmt: skip
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out["batching"], indent=2), "\nbatch_speedup", out["batch_speedup"])


if __name__ == "__main__":
    main()
