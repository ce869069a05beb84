"""Every probe a recipe may name: the eval layer's, train's and the server's load probe,
joined here because only the entry points may import all three layers."""

from __future__ import annotations

from thinktree.eval.bench.probes import PROBES as EVAL_PROBES
from thinktree.eval.bench.probes import Probe


def bench_probes() -> dict[str, Probe]:
    """The probes ``thinktree bench`` knows, by name (imported when a recipe is read)."""
    from thinktree.server import load_probe
    from thinktree.train.probes import PROBES as TRAIN_PROBES

    return {**EVAL_PROBES, **TRAIN_PROBES, "serve_load": load_probe.PROBE}
