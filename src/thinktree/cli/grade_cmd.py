"""`thinktree grade`: is a prediction equivalent to a gold answer?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from thinktree.cli.app import app
from thinktree.cli.errors import fail, user_errors
from thinktree.cli.job_options import grade_input_options, grade_json_options, grade_options
from thinktree.cli.options import ConfigFields
from thinktree.cli.output_configs import wants_json

if TYPE_CHECKING:
    from thinktree.grading import Verdict


def _read_pairs(path: Path) -> list[tuple[str, str]]:
    """(pred, gold) per non-blank line; every problem is a one-line error naming the line."""
    from thinktree.jsonl import read_objects
    from thinktree.problems.loaders import answer_text

    pairs: list[tuple[str, str]] = []
    try:
        for where, row in read_objects(path, like='{"pred": ..., "gold": ...}'):
            for name in ("pred", "gold"):
                if name not in row:
                    raise ValueError(f"{where}: missing field {name!r}")
            pred, gold = row["pred"], row["gold"]
            if not isinstance(pred, str):
                raise ValueError(f"{where}: field 'pred' must be a string")
            if isinstance(gold, bool) or not isinstance(gold, str | int | float):
                raise ValueError(f"{where}: field 'gold' must be a string or a number")
            pairs.append((pred, answer_text(gold)))
    except (OSError, ValueError) as exc:
        fail(str(exc))
    return pairs


@app.command("grade")
@grade_options
@grade_json_options
@grade_input_options
def grade(
    pairs: ConfigFields | None = None,
    output: ConfigFields | None = None,
    grading: ConfigFields | None = None,
) -> None:
    """Grade answers: one pair with --pred/--gold, or a JSONL file with --file.

    With --file every line gets one JSON line on stdout, in order, with
    "equivalent", "timed_out" and the extracted "pred_answer".
    """
    from thinktree.grading import GradeConfig, Grader, GraderError
    from thinktree.grading.config import GradeInput

    with user_errors():
        config = GradeConfig(**(grading or {}))
        given = GradeInput(**(pairs or {}))  # a pair or a file, not both
    workers, as_json = config.workers, wants_json(output)
    if given.file is not None:
        checked = _read_pairs(given.file)
        as_json = True
    else:
        assert given.pred is not None and given.gold is not None
        checked = [(given.pred, given.gold)]
        workers = 1
    try:
        with Grader(workers=min(workers, max(1, len(checked))), timeout=config.timeout) as grader:
            verdicts = grader.check_batch(checked)
    except GraderError as exc:
        fail(str(exc), code=1)
    for verdict in verdicts:
        if as_json:
            typer.echo(json.dumps(verdict.to_dict(), ensure_ascii=False))
        else:
            typer.echo(_describe(verdict))


def _describe(verdict: Verdict) -> str:
    head = "equivalent" if verdict.equivalent else "not equivalent"
    if verdict.timed_out:
        return f"{head} (timed out)"
    if verdict.pred_answer is None:
        return f"{head} (no answer found in the prediction)"
    detail = f"answer: {verdict.pred_answer}, gold: {verdict.gold}"
    if verdict.error:
        detail += f", error: {verdict.error}"
    return f"{head} ({detail})"
