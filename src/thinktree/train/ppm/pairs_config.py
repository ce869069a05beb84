"""Where a PPM's preference pairs come from and go: ``thinktree ppm pairs`` and the data
of ``thinktree ppm train`` (their options are generated from these models)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

RUNS_HELP = (
    "Runs whose trees (mcts: step and final pairs) or samples (sc, best_of_n: outcome pairs) "
    "give the pairs."
)
"""What ``--runs`` is, said once for both commands."""


class PairsExportConfig(BaseModel):
    """The pairs ``thinktree ppm pairs`` writes: the runs they come from, the file."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    runs: list[str] = Field(description=RUNS_HELP)
    out: str
    """JSONL file to write."""
    trl: bool = False
    """Write TRL's prompt/chosen/rejected format."""


class PPMDataConfig(BaseModel):
    """The pairs a PPM is trained on (from stored runs or a pairs file) and its directory."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    out: str
    """Directory for the trained PPM."""
    runs: list[str] | None = Field(None, description=RUNS_HELP)
    pairs: Path | None = None
    """A JSONL file of pairs (what `thinktree ppm pairs --out` writes) instead of --runs;
    --kind lm only."""

    @model_validator(mode="before")
    @classmethod
    def _one_source(cls, data: Any) -> Any:
        """Runs or a file, said in the command's words before any field is checked."""
        if isinstance(data, dict) and bool(data.get("runs")) == (data.get("pairs") is not None):
            raise ValueError(
                "give the pairs with --runs RUN... or with --pairs FILE.jsonl (one of the two)"
            )
        return data
