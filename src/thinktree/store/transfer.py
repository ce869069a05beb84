"""Carry a run between stores as one JSONL file: ``thinktree runs export`` and ``runs import``.

The format (version 1). Line 1 is a header, ``{"thinktree_run": 1, "run": {...}}``, holding the
run's id, fingerprint, kind, dataset, strategy, model, status, config, manifest, metrics and
created time. Every further line is one problem, ``{"result": {...}, "tree": {...} | null}``:
the ``ResultRow`` fields, and the tree exactly as ``RunStore.tree`` returns it. A file whose
name ends in ``.gz`` is written gzip-compressed; reading tells gzip by its magic bytes, not by
the name. Exports are written to a temporary file and renamed, so a killed export never leaves
a half file under the final name.

Import is built so that a long search survives a change of machine:
- the run keeps its id and fingerprint, so ``thinktree eval`` with the same settings finds it
  and solves only the problems it lacks;
- a result already in the store is skipped whole (tree included): importing twice adds
  nothing, and importing a newer export of a run that grew adds only the new problems;
- the header's status and metrics are used only when the import creates the run; a run that
  already existed keeps its own, and nothing is recomputed;
- a run stored under the same id with another fingerprint is another run: refused;
- each result is its own transaction, so a bad line (a cut file, a truncated gzip) stops the
  import with an error naming the line, and the results before it stay stored.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import sqlite3
import time
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from thinktree.store.store import ResultRow, RunRecord, RunStore, StoreError

FORMAT_VERSION = 1
GZIP_MAGIC = b"\x1f\x8b"

_NUMBER = (int, float)
_OPTIONAL_STR = (str, type(None))
_RUN_TYPES: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "fingerprint": (str,),
    "kind": (str,),
    "dataset": (str,),
    "strategy": (str,),
    "model": (str,),
    "status": (str,),
    "config": (dict,),
    "manifest": (dict,),
    "metrics": (dict,),
    "created": _NUMBER,
}
_RESULT_TYPES: dict[str, tuple[type, ...]] = {
    "problem_id": (str,),
    "position": (int,),
    "question": (str,),
    "gold": _OPTIONAL_STR,
    "answer": _OPTIONAL_STR,
    "correct": (bool, type(None)),
    "generated_tokens": (int,),
    "prompt_tokens": (int,),
    "cached_tokens": (int,),
    "seconds": _NUMBER,
    "stop_reason": (str,),
    "samples": (dict,),
    "votes": (dict,),
    "trajectories": (list,),
    "extra": (dict,),
}
_NODE_TYPES: dict[str, tuple[type, ...]] = {
    "id": (int,),
    "parent": (int, type(None)),
    "depth": (int,),
    "step": (object,),
    "visits": (int,),
    "value_sum": _NUMBER,
    "q": _NUMBER,
    "local_visits": (int,),
    "local_value": _NUMBER,
    "terminal": (bool,),
    "terminal_reason": _OPTIONAL_STR,
    "answer": _OPTIONAL_STR,
    "score": (int, float, type(None)),
    "expanded": (bool,),
    "correct": (bool, type(None)),
}


@dataclass(frozen=True)
class ImportReport:
    """What ``import_run`` did: results ``added``, and results ``skipped`` as already stored."""

    run_id: str
    added: int
    skipped: int


class _BadLine(Exception):
    """Line ``lineno`` of the file cannot be used, for ``reason``."""

    def __init__(self, lineno: int, reason: str) -> None:
        super().__init__(reason)
        self.lineno = lineno
        self.reason = reason


# -- export ---------------------------------------------------------------------------------


def run_header(run: RunRecord) -> dict[str, Any]:
    """The export's first line for ``run``."""
    return {
        "thinktree_run": FORMAT_VERSION,
        "run": {name: getattr(run, name) for name in _RUN_TYPES},
    }


def write_run(store: RunStore, run_id: str, handle: TextIO, *, trees: bool = True) -> int:
    """Write run ``run_id`` (or a unique prefix) to an open text handle; the number of results.

    The header line first, then one line per result in the store's order (position, then
    problem id). With ``trees=False`` every line's ``tree`` is null.
    """
    run = store.get_run(run_id)
    handle.write(json.dumps(run_header(run)) + "\n")
    count = 0
    for row in store.iter_results(run.id):
        tree = store.tree(run.id, row.problem_id) if trees else None
        handle.write(json.dumps({"result": asdict(row), "tree": tree}) + "\n")
        count += 1
    return count


def export_run(store: RunStore, run_id: str, path: str | Path, *, trees: bool = True) -> int:
    """Write run ``run_id`` to ``path`` atomically (gzip'd if it ends in ``.gz``); the count.

    The file appears under ``path`` only once it is complete: any error (or a kill) leaves
    at most a hidden ``.NAME.PID.part`` beside it, which an error removes. Raises StoreError
    for an unknown run and OSError when ``path`` cannot be written.
    """
    path = Path(path)
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        if path.name.endswith(".gz"):
            # No name and mtime 0 in the gzip header: an unchanged run exports to the same
            # bytes, so a committed export changes only when the run does.
            with (
                open(part, "wb") as raw,
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped,
                io.TextIOWrapper(zipped, encoding="utf-8", newline="\n") as text,
            ):
                count = write_run(store, run_id, text, trees=trees)
        else:
            with open(part, "w", encoding="utf-8", newline="\n") as text:
                count = write_run(store, run_id, text, trees=trees)
        with open(part, "rb") as done:
            os.fsync(done.fileno())
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return count


# -- import ---------------------------------------------------------------------------------


def import_run(store: RunStore, path: str | Path) -> ImportReport:
    """Add the run exported in ``path`` (gzip'd or plain) to ``store``; see the module doc.

    Raises StoreError, in one line naming the file (and the line, past the header), when the
    file cannot be read, is not a thinktree run export, was written by a newer thinktree, has
    a line that is not a complete result, or holds a run whose id the store already uses for
    another fingerprint. Results before a bad line stay stored.
    """
    path = Path(path)
    try:
        with path.open("rb") as probe:
            magic = probe.read(2)
    except OSError as exc:
        raise StoreError(
            f"cannot read {path} ({exc.strerror or exc}); give a file written by "
            "`thinktree runs export RUN --out FILE`"
        ) from exc
    added = skipped = 0
    try:
        with (
            gzip.open(path, "rt", encoding="utf-8")
            if magic == GZIP_MAGIC
            else path.open(encoding="utf-8")
        ) as handle:
            lines = _lines(handle)
            first = next(lines, None)
            if first is None:
                raise _BadLine(1, "the file is empty")
            run = _parse_header(*first, path)
            _ensure_run(store, run, path)
            for lineno, text in lines:
                result, tree = _parse_result(lineno, text)
                try:
                    stored = store.add_result(run.id, result, tree)
                except sqlite3.IntegrityError as exc:
                    raise _BadLine(lineno, f"the store refused its tree ({exc})") from exc
                if stored:
                    added += 1
                else:
                    skipped += 1
    except _BadLine as bad:
        if bad.lineno == 1:
            raise StoreError(
                f"{path} is not a thinktree run export (line 1: {bad.reason}); write one with "
                "`thinktree runs export RUN --out FILE`"
            ) from bad
        raise StoreError(
            f"{path} line {bad.lineno}: {bad.reason}; import stopped there with {added} results "
            f"added ({skipped} already stored); export the run again and import that"
        ) from bad
    return ImportReport(run.id, added, skipped)


def _lines(handle: TextIO) -> Iterator[tuple[int, str]]:
    """Numbered non-blank lines; a read error becomes a ``_BadLine`` for the line it hit."""
    lineno = 0
    reading = iter(handle)
    while True:
        try:
            text = next(reading)
        except StopIteration:
            return
        except EOFError as exc:
            raise _BadLine(lineno + 1, "the gzip file ends early (cut short?)") from exc
        except UnicodeDecodeError as exc:
            raise _BadLine(lineno + 1, "not UTF-8 text") from exc
        except (OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            raise _BadLine(lineno + 1, f"unreadable gzip data ({exc})") from exc
        lineno += 1
        if text.strip():
            yield lineno, text


def _json_object(lineno: int, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _BadLine(lineno, "not JSON (the file may be cut short)") from exc
    if not isinstance(value, dict):
        raise _BadLine(lineno, f"a JSON {type(value).__name__}, not an object")
    return value


def _check_fields(lineno: int, what: str, obj: Any, types: dict[str, tuple[type, ...]]) -> None:
    """Raise ``_BadLine`` unless ``obj`` is a dict with every field of ``types``, well typed."""
    if not isinstance(obj, dict):
        raise _BadLine(lineno, f"{what} is not an object")
    missing = [name for name in types if name not in obj]
    if missing:
        raise _BadLine(lineno, f"{what} lacks {', '.join(missing)}")
    for name, allowed in types.items():
        value = obj[name]
        # bool is an int to isinstance; a flag where a count belongs is still wrong.
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise _BadLine(lineno, f"{what} field {name} is {json.dumps(value)[:40]}")


def _parse_header(lineno: int, text: str, path: Path) -> RunRecord:
    header = _json_object(lineno, text)
    version = header.get("thinktree_run")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _BadLine(lineno, 'no {"thinktree_run": 1, ...} header')
    if version > FORMAT_VERSION:
        raise StoreError(
            f"{path} was written by a newer thinktree (export format {version}, this one reads "
            f"{FORMAT_VERSION}); upgrade thinktree"
        )
    run = header.get("run")
    _check_fields(lineno, "the header's run", run, _RUN_TYPES)
    return RunRecord(
        id=run["id"],
        fingerprint=run["fingerprint"],
        kind=run["kind"],
        created=float(run["created"]),
        updated=time.time(),
        status=run["status"],
        dataset=run["dataset"],
        strategy=run["strategy"],
        model=run["model"],
        config=run["config"],
        manifest=run["manifest"],
        metrics=run["metrics"],
    )


def _ensure_run(store: RunStore, run: RunRecord, path: Path) -> None:
    """Create ``run`` in ``store`` unless its id is there; refuse an id with another fingerprint."""
    if store.add_run(run):
        return
    existing = store.get_run(run.id)  # an exact id always wins over prefix matches
    if existing.fingerprint != run.fingerprint:
        raise StoreError(
            f"{store.path} already has a run {run.id!r} with another fingerprint than the one "
            f"in {path}; import it into another store (--store OTHER.db)"
        )


def _parse_result(lineno: int, text: str) -> tuple[ResultRow, dict[str, Any] | None]:
    line = _json_object(lineno, text)
    if "result" not in line:
        raise _BadLine(lineno, 'not a {"result": ..., "tree": ...} line')
    _check_fields(lineno, "the result", line["result"], _RESULT_TYPES)
    tree = line.get("tree")
    if tree is not None:
        if not isinstance(tree, dict) or not isinstance(tree.get("nodes"), list):
            raise _BadLine(lineno, 'the tree is not {"nodes": [...]}')
        for node in tree["nodes"]:
            _check_fields(lineno, "a tree node", node, _NODE_TYPES)
    result = ResultRow(**{name: line["result"][name] for name in _RESULT_TYPES})
    return result, tree
