"""The config models of what only the command line does: print JSON instead of text, and
read ``ppm score``'s question and steps. No lower layer prints or parses these, so their
models live here; their options are generated like every other
(:mod:`thinktree.cli.job_options`). Each command words its ``--json`` its own way, so
each wording is a model of one field, ``json_out`` (``json`` would shadow pydantic's
method), named ``--json``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, create_model

_CONFIG = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


def json_output(name: str, help_text: str) -> type[BaseModel]:
    """A model of one field, ``json_out``, whose help is this command's wording."""
    field = (bool, Field(False, description=help_text))
    return create_model(name, __config__=_CONFIG, json_out=field)


JsonOutput = json_output("JsonOutput", "Print one JSON object.")
"""``solve``, ``eval`` and ``runs regrade``: one JSON object on stdout."""
RunsJsonOutput = json_output("RunsJsonOutput", "Print one JSON object per run.")
ExecJsonOutput = json_output("ExecJsonOutput", "Print one JSON object instead of text.")
GradeJsonOutput = json_output("GradeJsonOutput", "Print the verdict as one JSON line.")
RescoreJsonOutput = json_output("RescoreJsonOutput", "Print the rescored run's record as JSON.")
TrainJsonOutput = json_output("TrainJsonOutput", "Print the training record.")


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
