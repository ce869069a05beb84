"""The one typed configuration of the Ray fan-out; its fields are CLI options.

Nothing here enters a run's fingerprint: the same seed and search config give
the same per-problem results with or without Ray and with any number of
workers, so a run started on a laptop resumes on a cluster and back.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class FanoutConfig(BaseModel):
    """Where problems are searched: this process (``ray`` unset) or Ray workers."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    ray: str | None = None
    """Search on Ray workers: auto (this machine's running cluster, else a new local one) or a cluster address (HOST:6379, ray://HOST:10001); default: no Ray."""
    workers: int = Field(2, ge=1, le=4096)
    """Ray workers (actors), each with its own engine and sandbox pool."""
    max_attempts: int = Field(3, ge=1, le=100)
    """Tries per problem while workers die on it; then it is stored as failed."""
    worker_cpus: float | None = Field(None, gt=0)
    """CPUs Ray reserves per worker (default: --threads, or 1 when --threads is 0)."""

    @field_validator("ray")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value:
            raise ValueError("give auto or a Ray cluster address (HOST:6379, ray://HOST:10001)")
        return value

    @model_validator(mode="after")
    def _ray_named(self) -> FanoutConfig:
        if self.ray is None:
            changed = [
                name
                for name, info in type(self).model_fields.items()
                if name != "ray" and getattr(self, name) != info.get_default()
            ]
            if changed:
                names = ", ".join(name.replace("_", "-") for name in changed)
                raise ValueError(f"{names} apply to Ray workers; add --ray auto (or an address)")
        return self

    @property
    def enabled(self) -> bool:
        return self.ray is not None

    def cpus(self, threads: int) -> float:
        """CPUs to reserve for one worker whose engine runs ``threads`` threads (0: all)."""
        if self.worker_cpus is not None:
            return self.worker_cpus
        return float(threads) if threads > 0 else 1.0
