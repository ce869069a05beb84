"""Reading JSONL input a user gives, with errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def read_objects(path: str | Path, like: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """``("file:line", object)`` for every non-blank line; ``like`` shows the
    expected shape in the error for a line that is not an object.

    Raises FileNotFoundError for a missing file and ValueError naming the line
    for text that is not UTF-8, not JSON, or not a JSON object.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with path.open("r", encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                where = f"{path}:{lineno}"
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{where}: not valid JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    shape = f" like {like}" if like else ""
                    raise ValueError(
                        f"{where}: expected a JSON object{shape}, got {type(row).__name__}"
                    )
                yield where, row
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason})") from None
