"""Probes: measurements a recipe runs that are not stored runs (timing a component on
a quiet machine), one module each; :data:`PROBES` names those of the eval layer.

A recipe's ``probe: {name, options}`` picks one; ``thinktree bench RECIPE`` runs it
and it writes its results file. Probes that need ``train`` (training steps, PPM
candidates, serving an adapter) are in :mod:`thinktree.train.probes` and the server's
load probe is :mod:`thinktree.server.load_probe`, since ``eval`` imports neither;
the command joins the three registries (:mod:`thinktree.cli.probes`). Importing a
registry is cheap: a probe imports torch, llama.cpp, Ray or uvicorn only when it runs.
"""

from __future__ import annotations

from thinktree.eval.bench.probes import (
    adaptive_timing,
    cut_steps,
    engine,
    grader,
    ppm_scoring,
    sandbox,
    scale,
    search_batch,
)
from thinktree.eval.bench.probes.base import (
    Probe,
    ProbeContext,
    ProbeError,
    ProbeOptions,
    run_probe,
)

PROBES: dict[str, Probe] = {
    "engine": engine.PROBE,
    "sandbox": sandbox.PROBE,
    "grader": grader.PROBE,
    "search_batch": search_batch.PROBE,
    "adaptive_timing": adaptive_timing.PROBE,
    "scale": scale.PROBE,
    "cut_steps": cut_steps.PROBE,
    "ppm_scoring": ppm_scoring.PROBE,
}

__all__ = ["PROBES", "Probe", "ProbeContext", "ProbeError", "ProbeOptions", "run_probe"]
