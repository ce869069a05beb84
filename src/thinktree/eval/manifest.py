"""What a run records about how it was produced, so its numbers can be reproduced."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

TRACKED_PACKAGES = (
    "thinktree",
    "xllamacpp",
    "math-verify",
    "latex2sympy2-extended",
    "sympy",
    "numpy",
    "torch",
    "transformers",
    "peft",
    "httpx",
)


def package_versions() -> dict[str, str]:
    versions = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_sha() -> str | None:
    """The commit of the thinktree checkout in use (None for a wheel install)."""
    source = Path(__file__).resolve().parents[3]
    if not (source / ".git").exists():
        return None
    try:
        sha = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("-dirty" if dirty else "")


def build_manifest(
    *,
    config: dict[str, Any],
    model: str,
    model_sha256: str | None,
    dataset: str,
    dataset_hash: str,
    seed: int,
) -> dict[str, Any]:
    return {
        "config": config,
        "model": model,
        "model_sha256": model_sha256,
        "dataset": dataset,
        "dataset_hash": dataset_hash,
        "seed": seed,
        "packages": package_versions(),
        "git_sha": git_sha(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
