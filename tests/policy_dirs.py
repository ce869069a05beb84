"""Policy directories on disk for tests of what a model ships with it (its PPM)."""

from __future__ import annotations

import json
from pathlib import Path

from thinktree.models import find_embedded
from thinktree.models.policy import Policy, write_policy


def policy_with(directory: Path, ppm_kind: str | None, name: str = "round-1") -> Path:
    """A policy directory (no adapter) over the fast model whose ``ppm/`` holds a PPM of
    ``ppm_kind`` ("lm"; "features": a feature PPM's ppm.json, which names no kind; None:
    no PPM)."""
    fast = find_embedded("fast")
    assert fast is not None
    directory.mkdir(parents=True)
    write_policy(Policy(directory, name, fast.name, fast.sha256, None, None, "zero-shot"))
    if ppm_kind is not None:
        (directory / "ppm").mkdir()
        record = {"kind": "lm", "adapter": "adapter.gguf"} if ppm_kind == "lm" else {"features": {}}
        (directory / "ppm" / "ppm.json").write_text(json.dumps(record))
    return directory
