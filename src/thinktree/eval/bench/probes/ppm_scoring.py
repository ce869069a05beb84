"""What scoring with the LM PPM costs in mcts@4's wall time (issue 51, point 3).

Issue 51 asks that scoring cost at most 25 % of search wall time on the default
settings. Run with nothing else on the machine (a timing; llama.cpp's threads spin,
so any other load skews it):

    thinktree bench benchmarks/recipes/ppm_scoring.yaml [--set problems=10]

The verifier recipe's mcts@4 + PPM (MCTS, 4 rollouts, k = 3, the scorer's defaults:
full expansion) with the LM PPM ``ppm`` as scorer, on the engine layout and window a
recipe run gets (:func:`~thinktree.search.registry.default_slots`, its default
window). gsm8k test/100 warms up (the few-shot header cached, the sandbox and the
PPM's engine started), then test[101:101+N] are timed: problems past test[:100], the
verifier report's slice, so no stored run's problem is searched again.

Writes ``benchmarks/results/ppm_scoring.json``: ``seconds_per_node`` (the PPM's own
totals, :class:`~thinktree.reward.lm_ppm.LMScoreStats`: seconds over nodes scored),
``share_of_search_wall_time`` (the results' ``usage.score_seconds`` over their wall
seconds), the counts behind both and the machine. The ``verifier`` analysis reads the
two figures through its ``scoring`` option.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from thinktree.eval.bench.probes.base import Probe, ProbeContext, ProbeError, ProbeOptions
from thinktree.eval.bench.probes.results import write_results
from thinktree.search.mcts.search import MCTSSearch
from thinktree.search.registry import strategy_name
from thinktree.search.result import SolveResult

TARGET_SHARE = 0.25
"""Issue 51's bound on scoring's share of search wall time."""
FIRST = 100
"""gsm8k test/100 warms up; the timed problems follow it (past the report's test[:100])."""
NOTE = (
    "A timing on a quiet machine (nothing else running): the LM PPM's seconds a node "
    "and its share of mcts@4's wall time; another load on the machine skews both."
)


class PPMScoringOptions(ProbeOptions):
    model: str = "evolved"
    """The policy: embedded model name or alias, or a .gguf path."""
    ppm: str = "ppm:runs/verifier/lm-ppm"
    """The LM PPM scoring the search, as --scorer names it (ppm:DIR, from the working directory)."""
    problems: int = Field(10, ge=1, le=100)
    """Problems timed, gsm8k test[101:101+N], after test/100 warms up (1 to 100)."""
    samples: int = Field(4, ge=1)
    """MCTS rollouts (the verifier recipe's mcts@4)."""
    k: int = Field(3, ge=1)
    """Candidates an expansion (the verifier recipe's k = 3)."""
    seed: int = 0
    """The search seed."""
    out: str = "benchmarks/results/ppm_scoring.json"
    """The results file (relative to the repository)."""

    @field_validator("ppm")
    @classmethod
    def _names_a_ppm(cls, value: str) -> str:
        from thinktree.reward.registry import ppm_directory

        ppm_directory(value)  # a spec naming no PPM: ValueError in one line
        return value


@dataclass(frozen=True)
class ScorerTotals:
    """An LM PPM's running totals at one moment (:class:`LMScoreStats`' counts)."""

    items: int = 0
    seconds: float = 0.0
    prompt_tokens: int = 0
    cached_tokens: int = 0

    @classmethod
    def of(cls, stats: Any) -> ScorerTotals:
        return cls(stats.items, stats.seconds, stats.prompt_tokens, stats.cached_tokens)

    def since(self, before: ScorerTotals) -> ScorerTotals:
        """What was added after ``before`` (the warm-up left out)."""
        return ScorerTotals(
            self.items - before.items,
            self.seconds - before.seconds,
            self.prompt_tokens - before.prompt_tokens,
            self.cached_tokens - before.cached_tokens,
        )


def scoring_figures(totals: ScorerTotals, results: Sequence[SolveResult]) -> dict[str, Any]:
    """The two figures and the counts behind them, from the PPM's totals over the timed
    problems and those problems' results (ProbeError where nothing was scored)."""
    wall = sum(result.seconds for result in results)
    score = sum(result.usage.score_seconds for result in results)
    if totals.items <= 0 or wall <= 0:
        raise ProbeError(
            f"nothing to measure: {totals.items} nodes scored in {wall} wall seconds; "
            "check that the scorer is an LM PPM and the problems were searched"
        )
    share = score / wall
    prompt = totals.prompt_tokens
    return {
        "seconds_per_node": round(totals.seconds / totals.items, 4),
        "share_of_search_wall_time": round(share, 4),
        "within_target": share <= TARGET_SHARE,
        "target_share": TARGET_SHARE,
        "cached_token_share": round(totals.cached_tokens / prompt, 4) if prompt else None,
        "nodes": totals.items,
        "problems": len(results),
        "wall_seconds": round(wall, 3),
        "score_seconds": round(score, 3),
        "scorer_seconds": round(totals.seconds, 3),
        "prompt_tokens": prompt,
        "cached_tokens": totals.cached_tokens,
    }


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "platform": platform.platform()}


def run(options: PPMScoringOptions, ctx: ProbeContext) -> Path:
    from thinktree.api import open_runtime
    from thinktree.engines.factory import EngineConfig
    from thinktree.problems import load_benchmark
    from thinktree.reward.lm_ppm import LMPPM
    from thinktree.reward.registry import load_scorer
    from thinktree.search import SearchConfig, run_search
    from thinktree.search.registry import checked, default_slots, default_window, resolved

    test = load_benchmark("gsm8k", split="test")
    warm_up, problems = test[FIRST], test[FIRST + 1 : FIRST + 1 + options.problems]
    fields = {"strategy": strategy_name(MCTSSearch), "samples": options.samples, "k": options.k}
    config = resolved(checked(SearchConfig(**fields, seed=options.seed)), scored=True)
    slots = default_slots(config)
    window = default_window(config, slots)
    scorer, scorer_id = load_scorer(options.ppm)  # before the model: a bad PPM is said first
    with closing(scorer):
        if not isinstance(scorer, LMPPM):
            raise ProbeError(f"ppm: {options.ppm} is not an LM PPM (its ppm.json's kind is not lm)")
        with open_runtime(EngineConfig(model=options.model, parallel=slots)) as runtime:
            search = runtime.context(config, scorer)
            run_search([warm_up], search, window=1)
            before = ScorerTotals.of(scorer.stats)
            started = time.perf_counter()
            results = run_search(problems, search, window=window)
            batch_wall = time.perf_counter() - started
            totals = ScorerTotals.of(scorer.stats).since(before)
    out = {
        **scoring_figures(totals, results),
        "batch_wall_seconds": round(batch_wall, 3),
        "model": options.model,
        "ppm": options.ppm,
        "scorer_id": scorer_id,
        "slice": f"gsm8k:test[{FIRST + 1}:{FIRST + 1 + len(problems)}]",
        "warm_up": f"gsm8k:test[{FIRST}]",
        "search": {**fields, "seed": options.seed, "slots": slots, "window": window},
        "machine": machine(),
        "note": NOTE,
        "command": ctx.command,
    }
    path = write_results(ctx.path(options.out), out)
    ctx.say(json.dumps(out, indent=2))
    return path


PROBE = Probe(PPMScoringOptions, "the LM PPM's cost a node and share of mcts@4 wall time", run)
