"""The config models of what only the command line does: print JSON instead of text, and
read ``ppm score``'s question and steps. No lower layer prints or parses these, so their
models live here; their options are generated like every other
(:mod:`thinktree.cli.job_options`). Each command words its ``--json`` its own way, so
each wording is a model of one field, ``json_out`` (``json`` would shadow pydantic's
method), named ``--json``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

_CONFIG = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class JsonOutput(BaseModel):
    """``solve``, ``eval`` and ``runs regrade``: one JSON object on stdout."""

    model_config = _CONFIG

    json_out: bool = False
    """Print one JSON object."""


class RunsJsonOutput(BaseModel):
    """``runs list``: one JSON object a run."""

    model_config = _CONFIG

    json_out: bool = False
    """Print one JSON object per run."""


class ExecJsonOutput(BaseModel):
    """``exec``: the cell's result as one JSON object."""

    model_config = _CONFIG

    json_out: bool = False
    """Print one JSON object instead of text."""


class GradeJsonOutput(BaseModel):
    """``grade``: each verdict as one JSON line."""

    model_config = _CONFIG

    json_out: bool = False
    """Print the verdict as one JSON line."""


class RescoreJsonOutput(BaseModel):
    """``rescore``: the new run's record."""

    model_config = _CONFIG

    json_out: bool = False
    """Print the rescored run's record as JSON."""


class TrainJsonOutput(BaseModel):
    """``ppm train``: the training record."""

    model_config = _CONFIG

    json_out: bool = False
    """Print the training record."""


class PPMScoreInput(BaseModel):
    """``ppm score``: the problem and the solution whose every prefix is scored."""

    model_config = _CONFIG

    question: str
    """The problem."""
    steps: Path
    """JSON list of steps: {code, output} or {answer}."""


def wants_json(output: dict[str, object] | None) -> bool:
    """Whether a command's generated ``--json`` was given (``output``: its values)."""
    return bool((output or {}).get("json_out"))
