"""Which problems a run uses: slice specs, deterministic selection, dataset identity.

A slice spec names a bundled benchmark, optionally a split, optionally a Python
style ``[start:stop]`` range of non-negative integers::

    gsm8k:test[:50]    gsm8k, split test, problems 0..49
    math500[10:20]     math500, its default split, problems 10..19
    gsm8k:train        all of gsm8k train
    aime24             all of aime24's default split

Selection never shuffles: the same spec gives the same problems in the same
order, and :func:`dataset_hash` lets a run record exactly which ones.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence

from thinktree.problems.loaders import load_benchmark, resolve_split
from thinktree.problems.problem import Problem

_SPEC = re.compile(
    r"^(?P<name>[A-Za-z0-9_\-]+)(?::(?P<split>[A-Za-z0-9_\-]+))?"
    r"(?:\[(?P<start>[^:\]]*):(?P<stop>[^\]]*)\])?$"
)


def parse_slice(spec: str) -> tuple[str, str, int, int | None]:
    """``"gsm8k:test[:50]"`` -> ``("gsm8k", "test", 0, 50)``: (benchmark, split, offset, limit).

    ``limit`` is ``None`` for "to the end". Raises ValueError with the reason for
    a malformed spec, an unknown benchmark or split, or a bad range.
    """
    text = spec.strip()
    match = _SPEC.match(text)
    if match is None:
        raise ValueError(
            f"bad slice {spec!r}: expected NAME[:SPLIT][[START:STOP]], e.g. 'gsm8k:test[:50]'"
        )
    name = match.group("name")
    split = resolve_split(name, match.group("split"))
    start = _bound(match.group("start"), spec, "start")
    stop = _bound(match.group("stop"), spec, "stop")
    offset = start or 0
    if stop is not None and stop < offset:
        raise ValueError(f"bad slice {spec!r}: stop {stop} is before start {offset}")
    limit = None if stop is None else stop - offset
    return name, split, offset, limit


def _bound(text: str | None, spec: str, which: str) -> int | None:
    if text is None or not text.strip():
        return None
    text = text.strip()
    if not text.isdigit():
        raise ValueError(
            f"bad slice {spec!r}: {which} must be a non-negative integer, not {text!r}"
        )
    return int(text)


def select(problems: Sequence[Problem], offset: int = 0, limit: int | None = None) -> list[Problem]:
    """``problems[offset : offset + limit]`` (to the end when ``limit`` is None), order kept."""
    if offset < 0:
        raise ValueError(f"offset must be >= 0, got {offset}")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    end = None if limit is None else offset + limit
    return list(problems[offset:end])


def load_slice(spec: str) -> list[Problem]:
    """The problems a slice spec names (see :func:`parse_slice`)."""
    name, split, offset, limit = parse_slice(spec)
    return select(load_benchmark(name, split), offset, limit)


def dataset_hash(problems: Sequence[Problem]) -> str:
    """sha256 (hex) over the ids, questions and answers, in order.

    Two problem lists hash alike exactly when they hold the same problems with
    the same gold answers in the same order; ``meta`` and ``source`` do not count.
    """
    digest = hashlib.sha256()
    for problem in problems:
        record = json.dumps([problem.id, problem.question, problem.answer], ensure_ascii=False)
        digest.update(record.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()
