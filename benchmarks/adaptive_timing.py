"""What adaptive compute saves in wall time, the time a user waits, not only in tokens.

Run with nothing else on the machine (llama.cpp's threads spin, so any other load
slows it far beyond its share):

    .venv/bin/python benchmarks/adaptive_timing.py [--model default] [--problems 10]

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
Writes ``benchmarks/results/adaptive_timing.json``, one entry per seed (``--seed``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from thinktree.api import open_runtime
from thinktree.engines.factory import EngineConfig
from thinktree.problems import Problem, load_benchmark
from thinktree.search import SearchConfig, run_search

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "adaptive_timing.json"
SLOTS = 4
WARM_UP = 60
"""gsm8k test/60, outside every slice measured here (test[:N], N <= 50)."""

LAYOUTS: dict[str, tuple[dict[str, Any], int, str | None]] = {
    # name: (SearchConfig fields, window, the full-budget layout it is a share of)
    "sc4": ({"strategy": "sc"}, 1, None),
    "sc4-confident": ({"strategy": "sc", "settle": "confident"}, 1, "sc4"),
    "sc4-confident-window4": ({"strategy": "sc", "settle": "confident"}, 4, "sc4"),
    "mcts4": ({"strategy": "mcts"}, 4, None),
    "mcts4-confident": ({"strategy": "mcts", "settle": "confident"}, 4, "mcts4"),
}


def measure(
    model: str, problems: list[Problem], warm_up: Problem, fields: dict[str, Any],
    window: int, seed: int,
) -> dict[str, Any]:  # fmt: skip
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="default")
    parser.add_argument("--problems", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="*", choices=sorted(LAYOUTS), help="layouts to run")
    args = parser.parse_args()
    if not 1 <= args.problems <= 50:
        parser.error("--problems must be 1 to 50 (the slice is gsm8k test[:50])")
    # Seeds accumulate in one file (one model and slice); a layout run again replaces
    # its seed's entry. Checked before the hour of measuring, so a file holding another
    # model's or slice's timings is never overwritten.
    slice_name = f"gsm8k:test[:{args.problems}]"
    out = json.loads(OUT.read_text()) if OUT.exists() else {}
    if out and (out.get("model"), out.get("slice")) != (args.model, slice_name):
        parser.error(
            f"{OUT.relative_to(ROOT)} holds {out.get('model')} on {out.get('slice')}; "
            "move it aside to time another model or slice"
        )
    out = out or {"model": args.model, "slice": slice_name, "slots": SLOTS, "seeds": {}}
    test = load_benchmark("gsm8k", split="test")
    problems, warm_up = test[: args.problems], test[WARM_UP]
    layouts: dict[str, dict[str, Any]] = {}
    for name in args.only or list(LAYOUTS):
        fields, window, _ = LAYOUTS[name]
        layouts[name] = measure(args.model, problems, warm_up, fields, window, args.seed)
        print(name, json.dumps(layouts[name]), flush=True)
    entry = out["seeds"].setdefault(str(args.seed), {"commands": [], "layouts": {}})
    command = (
        f"python benchmarks/adaptive_timing.py --model {args.model} --problems {args.problems}"
        f" --seed {args.seed}" + (f" --only {' '.join(args.only)}" if args.only else "")
    )
    entry["commands"] = [c for c in entry["commands"] if c != command] + [command]
    entry["layouts"] = with_shares({**entry["layouts"], **layouts})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(entry, indent=2))


if __name__ == "__main__":
    main()
