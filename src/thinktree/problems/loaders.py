"""Loading problems: the bundled benchmarks and any JSONL file with a field mapping.

Bundled benchmarks (files and provenance in ``data/PROVENANCE.md``):

========  ============  =============  ==========================================
name      splits        default split  gold answer
========  ============  =============  ==========================================
gsm8k     train, test   test           number after ``####``, commas removed
math500   test          test           ``final_answer`` (LaTeX) verbatim
aime24    test          test           integer, zero padding dropped
amc23     test          test           integer (the source stores ``27.0``)
math      train         train          the worked solution's last ``\boxed{}``
========  ============  =============  ==========================================

Ids are ``<benchmark>/<split>/<line index>`` and the order is the file's, so a
slice such as ``gsm8k:test[:50]`` always means the same 50 problems. One
exception: the MATH train file is grouped by subject, so its problems come in the
order of the sha256 of their source ids (a fixed order in which any slice mixes
subjects and levels); their ids keep the line index.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from thinktree.jsonl import read_objects
from thinktree.problems.problem import Problem


@dataclass(frozen=True)
class Benchmark:
    name: str
    splits: tuple[str, ...]
    default_split: str
    description: str
    mixed_order: bool = False
    """Problems come in the order of the sha256 of their source ids, not the file's."""


BENCHMARKS: dict[str, Benchmark] = {
    "gsm8k": Benchmark(
        "gsm8k", ("train", "test"), "test", "grade-school word problems (Cobbe et al. 2021)"
    ),
    "math500": Benchmark(
        "math500", ("test",), "test", "MATH-500, the PRM800K subset of MATH (Hendrycks et al.)"
    ),
    "aime24": Benchmark("aime24", ("test",), "test", "AIME 2024 I and II"),
    "amc23": Benchmark("amc23", ("test",), "test", "AMC 2023 12A/12B"),
    "math": Benchmark(
        "math",
        ("train",),
        "train",
        "the MATH train split, seven subjects (Hendrycks et al.)",
        mixed_order=True,
    ),
}
"""The bundled benchmarks by name."""


def benchmark(name: str) -> Benchmark:
    """The bundled benchmark called ``name``; ValueError naming the known ones otherwise."""
    try:
        return BENCHMARKS[name]
    except KeyError:
        known = ", ".join(BENCHMARKS)
        raise ValueError(f"unknown benchmark {name!r} (known: {known})") from None


def resolve_split(name: str, split: str | None) -> str:
    """``split`` checked against the benchmark's splits (its default when ``None``)."""
    spec = benchmark(name)
    if split is None:
        return spec.default_split
    if split not in spec.splits:
        raise ValueError(
            f"benchmark {name!r} has no split {split!r} (splits: {', '.join(spec.splits)})"
        )
    return split


def load_benchmark(name: str, split: str | None = None) -> list[Problem]:
    """All problems of a bundled benchmark split, in file order."""
    split = resolve_split(name, split)
    rows = _read_rows(
        resources.files("thinktree.problems").joinpath("data", name, f"{split}.jsonl")
    )
    make = _MAKERS[name]
    problems = [make(row, f"{name}/{split}/{i}") for i, row in enumerate(rows)]
    if benchmark(name).mixed_order:
        problems.sort(key=lambda p: hashlib.sha256(p.meta["source_id"].encode()).hexdigest())
    return problems


def load_source(
    benchmark: str | None,
    split: str | None = None,
    data: str | Path | None = None,
    question_field: str = "question",
    answer_field: str = "answer",
    id_field: str | None = None,
) -> tuple[list[Problem], str]:
    """(all problems, dataset name) of a bundled benchmark (``gsm8k``, ``gsm8k:train``)
    or of a JSONL file read with the given field mapping (dataset ``file:PATH``)."""
    if data is not None:
        if benchmark is not None:
            raise ValueError("give either --benchmark or --data, not both")
        problems = load_jsonl(
            data, question_field=question_field, answer_field=answer_field, id_field=id_field
        )
        return problems, f"file:{data}"
    if benchmark is None:
        raise ValueError(f"give --benchmark NAME ({', '.join(BENCHMARKS)}) or --data FILE.jsonl")
    name, _, inline_split = benchmark.partition(":")
    split = split or inline_split or None
    problems = load_benchmark(name, split=split)
    return problems, f"{name}:{resolve_split(name, split)}"


def gsm8k_gold(solution: str) -> str:
    """The final answer of a GSM8K worked solution: the text after ``####``, commas removed."""
    if "####" not in solution:
        raise ValueError("GSM8K solution has no '####' answer line")
    return solution.rsplit("####", 1)[1].strip().replace(",", "")


def _gsm8k(row: dict[str, Any], pid: str) -> Problem:
    return Problem(
        id=pid,
        question=row["question"],
        answer=gsm8k_gold(row["answer"]),
        source="gsm8k",
        meta={"solution": row["answer"]},
    )


def _math500(row: dict[str, Any], pid: str) -> Problem:
    return Problem(id=pid, question=row["problem"], answer=row["final_answer"], source="math500")


def _aime24(row: dict[str, Any], pid: str) -> Problem:
    return Problem(
        id=pid,
        question=row["problem"],
        answer=str(int(row["answer"])),
        source="aime24",
        meta={
            "source_id": row["id"],
            "answer_raw": row["answer"],
            "solution": row["solution"],
            "url": row["url"],
        },
    )


def _amc23(row: dict[str, Any], pid: str) -> Problem:
    return Problem(
        id=pid,
        question=row["problem"],
        answer=answer_text(row["answer"]),
        source="amc23",
        meta={"source_id": row["id"], "url": row["url"]},
    )


def _math(row: dict[str, Any], pid: str) -> Problem:
    return Problem(
        id=pid,
        question=row["problem"],
        answer=row["answer"],
        source="math",
        meta={
            "source_id": row["id"],
            "level": row["level"],
            "type": row["type"],
            "solution": row["solution"],
        },
    )


_MAKERS: dict[str, Callable[[dict[str, Any], str], Problem]] = {
    "gsm8k": _gsm8k,
    "math500": _math500,
    "aime24": _aime24,
    "amc23": _amc23,
    "math": _math,
}


def _read_rows(path: Any) -> list[dict[str, Any]]:
    with path.open("r", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def answer_text(value: Any) -> str:
    """A gold answer as text: ``27.0`` -> ``"27"``, ``0.5`` -> ``"0.5"``, strings as they are."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def load_jsonl(
    path: str | Path,
    question_field: str = "question",
    answer_field: str | None = "answer",
    id_field: str | None = None,
) -> list[Problem]:
    """Problems from a JSONL file, one JSON object per line.

    ``question_field`` and ``answer_field`` name the fields to read
    (``answer_field=None`` for questions without a known answer); the other
    fields go to ``meta``. Ids come from ``id_field`` when given (they must be
    unique), else ``<file stem>/<line index>``, counting non-blank lines from 0.
    Numeric answers become text (``27.0`` -> ``"27"``).

    Raises FileNotFoundError for a missing file and ValueError, naming the file,
    line and field, for a line that is not a JSON object or lacks a field.
    """
    path = Path(path)
    problems: list[Problem] = []
    seen: set[str] = set()
    stem = path.stem
    for where, row in read_objects(path):
        question = _field(row, question_field, where)
        if not isinstance(question, str) or not question.strip():
            raise ValueError(f"{where}: field {question_field!r} must be a non-empty string")
        answer = None
        if answer_field is not None:
            value = _field(row, answer_field, where)
            answer = None if value is None else answer_text(value)
        if id_field is not None:
            pid = str(_field(row, id_field, where))
        else:
            pid = f"{stem}/{len(problems)}"
        if pid in seen:
            raise ValueError(f"{where}: duplicate id {pid!r}")
        seen.add(pid)
        used = {question_field, answer_field, id_field}
        meta = {k: v for k, v in row.items() if k not in used}
        problems.append(Problem(id=pid, question=question, answer=answer, source=stem, meta=meta))
    return problems


def _field(row: dict[str, Any], name: str, where: str) -> Any:
    if name not in row:
        fields = ", ".join(repr(k) for k in row) or "none"
        raise ValueError(f"{where}: no field {name!r} (fields: {fields})")
    return row[name]
