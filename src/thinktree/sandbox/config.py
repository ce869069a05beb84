"""``SandboxConfig``: every knob of the sandbox, validated in one place."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_PRELOAD = (
    "math",
    "fractions",
    "itertools",
    "decimal",
    "statistics",
    "numpy",
    "numpy.random",
    "sympy",
)


@dataclass(frozen=True)
class SandboxConfig:
    """Limits and layout of a ``Sandbox``. Defaults are the safe ones.

    Limits apply to each execution (one call of ``Sandbox.run``), not to the
    pool. ``memory_mb`` is address space and includes the preloaded numpy and
    sympy (about 150 MB). ``max_processes`` counts processes and threads of the
    sandbox uid; started as root, all workers share that uid, so the count is
    shared by the executions running at the same moment.
    """

    workers: int = 2
    timeout: float = 10.0
    """Default wall-clock limit of one execution, in seconds."""
    memory_mb: int = 1024
    cpu_seconds: int | None = None
    """CPU-time limit; ``None`` means the call's timeout rounded up, plus one."""
    max_output_bytes: int = 8192
    """Kept of each of stdout and stderr; the rest is cut and a marker says so."""
    max_file_mb: int = 16
    max_processes: int = 64
    max_open_files: int = 256
    tmp_size_mb: int = 64
    """Size of the private /tmp (namespace mode), the code's working directory."""
    seed: int = 0
    """Seeds ``random``, ``numpy.random``, sympy's generator and PYTHONHASHSEED."""
    preload: tuple[str, ...] = DEFAULT_PRELOAD
    """Modules imported once per worker, before any code runs, so cells using them are fast."""
    uid: int = 65534
    gid: int = 65534
    """Identity the code runs as when the workers are started as root."""
    namespaces: bool = True
    """Use Linux namespaces where permitted. ``False`` only to exercise the fallbacks."""
    landlock: bool = True
    """Use Landlock where the kernel has it. ``False`` only to exercise the fallbacks."""
    seccomp: bool = True
    """Filter syscalls when namespaces are unavailable. ``False`` only to exercise the fallbacks."""
    python: str | None = None
    """Interpreter of the workers; ``None`` is the host's own ``sys.executable``."""
    worker_user: int | None = None
    """Start the workers as this uid (and gid) instead of the host's; needs root."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Extra environment variables for the code. Nothing of the host's environment passes."""
    start_timeout: float = 120.0

    def __post_init__(self) -> None:
        positive = {
            "workers": self.workers,
            "timeout": self.timeout,
            "memory_mb": self.memory_mb,
            "max_output_bytes": self.max_output_bytes,
            "max_file_mb": self.max_file_mb,
            "max_processes": self.max_processes,
            "max_open_files": self.max_open_files,
            "tmp_size_mb": self.tmp_size_mb,
            "start_timeout": self.start_timeout,
        }
        for name, value in positive.items():
            if not value > 0 or (isinstance(value, float) and not math.isfinite(value)):
                raise ValueError(f"SandboxConfig.{name} must be positive, got {value!r}")
        if self.cpu_seconds is not None and self.cpu_seconds < 1:
            raise ValueError(
                f"SandboxConfig.cpu_seconds must be at least 1, got {self.cpu_seconds!r}"
            )
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"SandboxConfig.seed must be in [0, 2**32), got {self.seed!r}")
        if self.max_open_files < 16:
            raise ValueError("SandboxConfig.max_open_files must be at least 16")
        object.__setattr__(self, "env", dict(self.env))
        object.__setattr__(self, "preload", tuple(self.preload))

    def cpu_limit(self, timeout: float) -> int:
        """CPU seconds granted to an execution with this wall-clock timeout."""
        return self.cpu_seconds if self.cpu_seconds is not None else math.ceil(timeout) + 1
