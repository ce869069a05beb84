"""Probes that need ``train`` (:mod:`thinktree.eval.bench.probes` says what a probe is):
LoRA SFT speed, the PPM candidates, the LM PPM's prefix sharing and grouping, and serving an
evolved adapter against its merged file. ``thinktree bench`` joins them to the eval
layer's (``eval`` never imports ``train``); each imports torch or llama.cpp only
when it runs.
"""

from __future__ import annotations

from thinktree.eval.bench.probes.base import Probe
from thinktree.train.probes import (
    lm_ppm_groups,
    lm_ppm_prefix,
    ppm_candidates,
    serve_adapter,
    sft,
)

PROBES: dict[str, Probe] = {
    "sft": sft.PROBE,
    "ppm_candidates": ppm_candidates.PROBE,
    "lm_ppm_prefix": lm_ppm_prefix.PROBE,
    "lm_ppm_groups": lm_ppm_groups.PROBE,
    "serve_adapter": serve_adapter.PROBE,
}

__all__ = ["PROBES"]
