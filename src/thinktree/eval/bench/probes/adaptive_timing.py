"""What adaptive compute saves in wall time, the time a user waits, not only in tokens.

Run with nothing else on the machine (llama.cpp's threads spin, so any other load
slows it far beyond its share):

    thinktree bench benchmarks/recipes/adaptive_timing.yaml [--set problems=10]

The same problems (gsm8k test[:N]) and seed for every layout below, each measured
on a fresh engine (4 llama.cpp slots, every core) after one warm-up problem from
outside the slice, one after the other in this process:

- ``sc4``: sc@4, one problem at a time (its 4 samples fill the 4 slots; eval's
  default window);
- ``sc4-confident``: ``--settle confident``, one problem at a time (eval's default
  window until 2026-12-04), so its waves, mostly of one sample, run on one slot of four;
- ``sc4-confident-window4``: the same four problems at a time (``--window 4``);
- ``mcts4``: the default mcts@4, four problems at a time (lazy MCTS asks for one
  completion a problem at a time, so eval's default window fills the slots so);
- ``mcts4-confident``: ``--settle confident``, four problems at a time.

Each layout reports its wall seconds, generated tokens and right answers, and the
adaptive ones their wall-time and token shares of their strategy's full budget.
Writes ``benchmarks/results/adaptive_timing.json``, one entry per seed (``seed``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from thinktree.eval.bench.probes.base import Probe, ProbeContext, ProbeError, ProbeOptions
from thinktree.eval.bench.probes.results import read_results, write_results
from thinktree.search.mcts.search import MCTSSearch
from thinktree.search.registry import strategy_name
from thinktree.search.sampling import SelfConsistencySearch

SC = strategy_name(SelfConsistencySearch)
MCTS = strategy_name(MCTSSearch)
SLOTS = 4
WARM_UP = 60
"""gsm8k test/60, outside every slice measured here (test[:N], N <= 50)."""

Layout = Literal["sc4", "sc4-confident", "sc4-confident-window4", "mcts4", "mcts4-confident"]
LAYOUTS: dict[str, tuple[dict[str, Any], int, str | None]] = {
    # name: (SearchConfig fields, window, the full-budget layout it is a share of)
    "sc4": ({"strategy": SC}, 1, None),
    "sc4-confident": ({"strategy": SC, "settle": "confident"}, 1, "sc4"),
    "sc4-confident-window4": ({"strategy": SC, "settle": "confident"}, 4, "sc4"),
    "mcts4": ({"strategy": MCTS}, 4, None),
    "mcts4-confident": ({"strategy": MCTS, "settle": "confident"}, 4, "mcts4"),
}


class AdaptiveTimingOptions(ProbeOptions):
    model: str = "default"
    """Embedded model name or alias, or a .gguf path."""
    problems: int = Field(10, ge=1, le=50)
    """Problems timed, gsm8k test[:N] (1 to 50)."""
    seed: int = 0
    """The search seed; each seed has its own entry in the results file."""
    only: list[Layout] | None = None
    """Layouts to run (default: all); a layout run again replaces its seed's entry."""
    out: str = "benchmarks/results/adaptive_timing.json"
    """The results file (relative to the repository)."""


def measure(
    model: str, problems: list[Any], warm_up: Any, fields: dict[str, Any],
    window: int, seed: int,
) -> dict[str, Any]:  # fmt: skip
    from thinktree.api import open_runtime
    from thinktree.engines.factory import EngineConfig
    from thinktree.search import SearchConfig, run_search

    config = SearchConfig(samples=4, seed=seed, **fields)
    with open_runtime(EngineConfig(model=model, parallel=SLOTS)) as runtime:
        ctx = runtime.context(config)
        run_search([warm_up], ctx, window=1)  # the few-shot header cached, sandbox warm
        started = time.perf_counter()
        results = run_search(problems, ctx, window=window)
        wall = time.perf_counter() - started
        golds = {p.id: p.answer for p in problems}
        right = sum(
            r.answer is not None and runtime.grader.check(r.answer, golds[r.problem_id]).equivalent
            for r in results
        )
    tokens = sum(r.usage.generated_tokens for r in results)
    return {
        "window": window,
        "problems": len(results),
        "right": right,
        "wall_seconds": round(wall, 1),
        "generated_tokens": tokens,
        "tokens_per_second": round(tokens / wall, 2),
        "stopped_early": sum(r.stop_reason == "settled" for r in results),
    }


def with_shares(layouts: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``layouts`` with each adaptive one's wall-time and token shares of its full budget."""
    for name, entry in layouts.items():
        full = layouts.get(LAYOUTS[name][2] or "")
        if full is not None:
            entry["wall_share"] = round(entry["wall_seconds"] / full["wall_seconds"], 3)
            entry["token_share"] = round(entry["generated_tokens"] / full["generated_tokens"], 3)
    return layouts


def run(options: AdaptiveTimingOptions, ctx: ProbeContext) -> Path:
    from thinktree.problems import load_benchmark

    # Seeds accumulate in one file (one model and slice); a layout run again replaces
    # its seed's entry. Checked before the hour of measuring, so a file holding another
    # model's or slice's timings is never overwritten.
    path = ctx.path(options.out)
    slice_name = f"gsm8k:test[:{options.problems}]"
    out = read_results(path)
    if out and (out.get("model"), out.get("slice")) != (options.model, slice_name):
        raise ProbeError(
            f"{options.out} holds {out.get('model')} on {out.get('slice')}; "
            "move it aside (or set out) to time another model or slice"
        )
    out = out or {"model": options.model, "slice": slice_name, "slots": SLOTS, "seeds": {}}
    test = load_benchmark("gsm8k", split="test")
    problems, warm_up = test[: options.problems], test[WARM_UP]
    layouts: dict[str, dict[str, Any]] = {}
    for name in options.only or list(LAYOUTS):
        fields, window, _ = LAYOUTS[name]
        layouts[name] = measure(options.model, problems, warm_up, fields, window, options.seed)
        ctx.say(f"{name} {json.dumps(layouts[name])}")
    entry = out["seeds"].setdefault(str(options.seed), {"commands": [], "layouts": {}})
    entry["commands"] = [c for c in entry["commands"] if c != ctx.command] + [ctx.command]
    entry["layouts"] = with_shares({**entry["layouts"], **layouts})
    write_results(path, out)
    ctx.say(json.dumps(entry, indent=2))
    return path


PROBE = Probe(AdaptiveTimingOptions, "wall time of adaptive sc and mcts against full budgets", run)
