"""A probe's results file: read what is there, write it back as indented JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_results(path: Path) -> dict[str, Any]:
    """A results file's JSON object, or an empty one where there is none yet."""
    return json.loads(path.read_text()) if path.is_file() else {}


def write_results(path: Path, doc: Any, **dumps: Any) -> Path:
    """Write ``doc`` as indented JSON (its folder made); the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, **{"indent": 2, **dumps}) + "\n", encoding="utf-8")
    return path
